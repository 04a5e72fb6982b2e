// What `slm generate` and `slm chat` share: sampling flags, their parsing, and where the model
// comes from when none is named (the default model shipped at the package root).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SlmError } from '../errors.ts';
import type { ModelDType } from '../models/load.ts';
import type { OptionSpec } from './command.ts';
import type { SequenceOptions } from '../generate/sequence-run.ts';

export const SAMPLING_OPTIONS: Record<string, OptionSpec> = {
  'max-tokens': { type: 'string', description: 'most tokens to generate (default 256)', valueName: 'n' },
  temperature: { type: 'string', short: 't', description: 'sampling temperature; 0 = greedy (default 0.7)', valueName: 't' },
  'top-p': { type: 'string', description: 'nucleus sampling mass (default 0.95)', valueName: 'p' },
  'top-k': { type: 'string', description: 'keep the k most likely tokens (default: off)', valueName: 'k' },
  seed: { type: 'string', description: 'sampler seed (reproducible output)', valueName: 'n' },
  stop: { type: 'string', multiple: true, description: 'stop at this text (repeatable)', valueName: 'text' },
  dtype: { type: 'string', description: 'weights at run time: f32, f16, q8, q4 (default: q4 above 100M params)', valueName: 'd' },
  threads: { type: 'string', description: 'onnxruntime threads (default: one per core)', valueName: 'n' },
};

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

function num(values: Values, name: string, check: (n: number) => boolean, what: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new SlmError('INVALID_ARGUMENT', `--${name} must be ${what}, got '${String(v)}'`);
  return n;
}

/**
 * The most tokens a reply may have once the prompt is in: --max-tokens, capped at what the
 * context leaves. A cap on an explicit --max-tokens is said on stderr (llama.cpp caps the same way);
 * the default (256) is capped silently.
 */
export function capMaxTokens(values: Values, requested: number, room: number, stderr: NodeJS.WritableStream): number {
  if (requested <= room) return requested;
  if (values['max-tokens'] !== undefined) stderr.write(`note: --max-tokens ${requested} is more than the context leaves after the prompt; generating at most ${room}\n`);
  return room;
}

/** Sampling settings from the flags (the defaults above). */
export function samplingFromFlags(values: Values): SequenceOptions {
  const stop = values.stop as string[] | undefined;
  return {
    maxTokens: num(values, 'max-tokens', (n) => Number.isInteger(n) && n >= 1, 'a positive integer') ?? 256,
    temperature: num(values, 'temperature', (n) => n >= 0, 'a number ≥ 0') ?? 0.7,
    topP: num(values, 'top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]') ?? 0.95,
    topK: num(values, 'top-k', (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
    seed: num(values, 'seed', (n) => Number.isInteger(n), 'an integer'),
    stop: stop?.length ? stop : undefined,
  };
}

const DTYPES = new Set(['f32', 'f16', 'q8', 'q4']);

/** Loader settings from the flags. */
export function loadFromFlags(values: Values): { dtype?: ModelDType; threads?: number } {
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !DTYPES.has(dtype)) throw new SlmError('INVALID_ARGUMENT', `--dtype must be one of f32, f16, q8, q4, got '${dtype}'`);
  return { dtype: dtype as ModelDType | undefined, threads: num(values, 'threads', (n) => Number.isInteger(n) && n >= 1, 'a positive integer') };
}

/**
 * The model used when the command names none: $SLMKIT_DEFAULT_MODEL, else models/default/ at
 * the package root (trained and shipped with slmkit). Fails clearly when it is not there.
 */
export function defaultModelPath(): string {
  const path = process.env.SLMKIT_DEFAULT_MODEL || fileURLToPath(new URL('../../models/default', import.meta.url));
  if (!existsSync(path)) {
    throw new SlmError(
      'NOT_FOUND',
      `no model given, and the default model is not installed (looked for ${path}). Name a model: a Hugging Face folder or a .gguf file.`,
    );
  }
  return path;
}
