// Memory needed to run a decoder, estimated before any weight is read, so a model that
// will not fit fails with a clear message instead of being killed half-way through loading.

import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import type { KvLayout } from './causal-lm.ts';
import type { LinearDType } from '../nn/var-builder.ts';
import { SlmError } from '../errors.ts';

export interface MemoryEstimate {
  weightBytes: number;
  kvCacheBytes: number;
  /** onnxruntime arena, activations, prepacked weights, Node itself. */
  overheadBytes: number;
  totalBytes: number;
}

/**
 * Parameters split into those held as `linear` dtype and those kept f32 (embeddings,
 * norms, biases). q4/q8 cost 4/8 bits per weight plus one f32 scale per 32. The prepack of
 * MatMulNBits at accuracy level 4 adds about half the quantized size again (measured in
 * onnxruntime-findings: 580 → 960 MB RSS for TinyLlama q4).
 */
export function estimateMemory(p: { linearParams: number; otherParams: number; linear: LinearDType; kv: KvLayout; context: number }): MemoryEstimate {
  const perLinear = p.linear === 'q4' ? 0.5 + 4 / 32 : p.linear === 'q8' ? 1 + 4 / 32 : 4;
  const prepack = p.linear === 'float32' ? 1 : 1.6;
  const weightBytes = p.linearParams * perLinear * prepack + p.otherParams * 4;
  const kvCacheBytes = 2 * p.kv.layers * p.kv.kvHeads * p.kv.headDim * p.context * 4;
  const overheadBytes = 150 * 2 ** 20 + 0.1 * weightBytes;
  return { weightBytes, kvCacheBytes, overheadBytes, totalBytes: weightBytes + kvCacheBytes + overheadBytes };
}

/** Memory the OS can still give us (MemAvailable on Linux, else free memory). */
export function availableMemory(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

export function assertFits(e: MemoryEstimate, what: string, available = availableMemory()): void {
  if (e.totalBytes > available) {
    const gb = (n: number) => (n / 2 ** 30).toFixed(2);
    throw new SlmError(
      'OUT_OF_MEMORY',
      `${what} needs about ${gb(e.totalBytes)} GiB (weights ${gb(e.weightBytes)}, KV cache ${gb(e.kvCacheBytes)}, overhead ${gb(e.overheadBytes)}) but only ${gb(available)} GiB is available; try --dtype q4 or a smaller --ctx`,
    );
  }
}
