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
 * Parameters split into those held as `linear` dtype (the linears, and under q4/q8 the
 * embedding table too) and those kept f32 (norms, biases, float embeddings).
 *
 * Bytes per quantized weight at run time: onnxruntime's MatMulNBits prepack (accuracy level
 * 4) keeps the codes plus, per block of 32, a float32 scale and a float32 block sum: 0.75 B
 * for q4, 1.25 B for q8. Measured on the TinyLlama-1.1B shape (q4, 2 threads, 256+128
 * context, BENCHMARKS.md): ~870 MB anonymous memory after load, ~1.15 GB peak RSS; this
 * formula gives 1.16 GB. The overhead covers Node and onnxruntime themselves (~0.2 GB), the
 * pages of the mmapped weight file that stay resident after prepacking, the arena and
 * activations (0.15 x weights).
 */
export function estimateMemory(p: { linearParams: number; otherParams: number; linear: LinearDType; kv: KvLayout; context: number; sequences?: number }): MemoryEstimate {
  const perLinear = p.linear === 'q4' ? 0.5 + 8 / 32 : p.linear === 'q8' ? 1 + 8 / 32 : 4; // float16 is cast up: float32 in RAM
  const weightBytes = p.linearParams * perLinear + p.otherParams * 4;
  // Each sequence decoding at once holds its own float32 K and V, up to the whole context.
  const kvCacheBytes = 2 * p.kv.layers * p.kv.kvHeads * p.kv.headDim * p.context * 4 * Math.max(1, p.sequences ?? 1);
  const overheadBytes = 200 * 2 ** 20 + 0.15 * weightBytes;
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
      `${what} needs about ${gb(e.totalBytes)} GiB (weights ${gb(e.weightBytes)}, KV cache ${gb(e.kvCacheBytes)}, overhead ${gb(e.overheadBytes)}) but only ${gb(available)} GiB is available; try --dtype q4, a smaller --ctx or fewer concurrent sequences`,
    );
  }
}
