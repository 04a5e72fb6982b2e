// Options the encoder commands (fill-mask, classify, embed) share, and reading stdin lines.
import type { OptionSpec } from './command.ts';
import type { LoadEncoderOptions } from '../models/encoder-model.ts';
import type { ModelDType } from '../models/load.ts';
import { SlmError, throwIfAborted } from '../errors.ts';

export const ENCODER_OPTIONS: Record<string, OptionSpec> = {
  dtype: { type: 'string', valueName: 'f32|f16|q8|q4', description: 'linear weights at run time (default f32)' },
  threads: { type: 'string', valueName: 'N', description: 'onnxruntime threads (default: one per core)' },
  truncate: { type: 'boolean', description: 'cut texts longer than the model\'s position table (with a warning) instead of failing' },
  'batch-size': { type: 'string', valueName: 'N', description: 'texts per forward pass (default 32)' },
  adapter: { type: 'string', valueName: 'DIR', description: 'apply a PEFT LoRA adapter folder (slm train --lora-r ...); a model argument that is such a folder loads its base with it' },
};

function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new SlmError('INVALID_ARGUMENT', `${flag} must be a positive integer (got ${String(v)})`);
  return n;
}

export function encoderLoadOptions(values: Record<string, unknown>, stderr: NodeJS.WritableStream, signal: AbortSignal): LoadEncoderOptions {
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !['f32', 'f16', 'q8', 'q4'].includes(dtype)) throw new SlmError('INVALID_ARGUMENT', `--dtype must be one of f32, f16, q8, q4 (got ${dtype})`);
  return {
    dtype: dtype as ModelDType | undefined,
    threads: positiveInt(values.threads, '--threads'),
    batchSize: positiveInt(values['batch-size'], '--batch-size'),
    truncate: values.truncate === true,
    adapter: typeof values.adapter === 'string' ? values.adapter : undefined,
    onWarning: (m) => stderr.write(`warning: ${m}\n`),
    signal,
  };
}

/** Non-empty stdin lines, in order. */
export async function readStdinLines(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    throwIfAborted(signal);
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
}
