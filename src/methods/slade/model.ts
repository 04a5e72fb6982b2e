// Loading a decompiler folder: a retrieval index (slade-retrieval.json, retrieval.ts) or a T5
// seq2seq model trained with `slm train --objective seq2seq` on the corpus pairs (t5.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SlmError } from '../../errors.ts';
import type { Decompiler } from './decompile.ts';
import { loadRetrievalIndex, RetrievalDecompiler } from './retrieval.ts';

export async function loadDecompiler(dir: string): Promise<Decompiler & { kind: string }> {
  if (existsSync(join(dir, 'slade-retrieval.json'))) return Object.assign(new RetrievalDecompiler(loadRetrievalIndex(dir)), { kind: 'retrieval' });
  if (existsSync(join(dir, 'config.json'))) {
    const { loadT5Decompiler } = await import('./t5.ts');
    return Object.assign(await loadT5Decompiler(dir), { kind: 't5' });
  }
  throw new SlmError('NOT_FOUND', `${dir}: no slade-retrieval.json or config.json; build a model with slm slade train --corpus FILE --out ${dir}`);
}
