// Parsing Hugging Face config.json files with zod: unknown keys are ignored (as
// transformers' from_dict does), missing keys take the transformers defaults, and a
// wrong type names the file and the key.

import type { z } from 'zod';
import { FormatError } from '../errors.ts';

export function parseHfConfig<S extends z.ZodType>(schema: S, json: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new FormatError(file, issue.path.join('.') || undefined, issue.message);
  }
  return r.data;
}
