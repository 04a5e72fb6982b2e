// A WeightStore over any opened checkpoint (safetensors, sharded safetensors, PyTorch
// .bin, GGUF after renaming), so architectures read weights by Hugging Face name
// whatever file they came from.

import type { Checkpoint } from '../formats/checkpoint.ts';
import { WeightUsage, type WeightStore } from '../nn/var-builder.ts';
import { SlmError } from '../errors.ts';

export interface CheckpointStoreOptions {
  /** Checkpoint name → Hugging Face name (GGUF); default identity. */
  toHfName?: (name: string) => string | undefined;
  /** Fix-ups applied to a tensor after loading (e.g. undoing llama.cpp's Q/K permutation). */
  transform?: (hfName: string, data: Float32Array, shape: number[]) => Float32Array;
}

export class CheckpointStore implements WeightStore {
  private readonly byHf = new Map<string, { name: string; shape: number[] }>();

  constructor(
    readonly checkpoint: Checkpoint,
    private readonly opts: CheckpointStoreOptions = {},
  ) {
    for (const [name, info] of checkpoint.tensors) {
      const hf = opts.toHfName ? opts.toHfName(name) : name;
      if (hf !== undefined) this.byHf.set(hf, { name, shape: info.shape });
    }
  }

  shape(name: string): number[] | undefined {
    return this.byHf.get(name)?.shape;
  }

  async loadF32(name: string): Promise<Float32Array> {
    const t = this.byHf.get(name);
    if (!t) throw new SlmError('NOT_FOUND', `${this.checkpoint.path}: no tensor '${name}'`);
    const data = await this.checkpoint.readF32(t.name);
    return this.opts.transform ? this.opts.transform(name, data, t.shape) : data;
  }

  names(): string[] {
    return [...this.byHf.keys()];
  }
}

/**
 * Refuses a checkpoint whose tensors are not exactly the ones the model asks for (names and
 * shapes; `expected` from listWeights), with one error listing every difference, so a
 * mismatch fails at load rather than when a graph is first built or run.
 */
export function assertCheckpointMatches(expected: Map<string, number[]>, store: WeightStore, file: string, ignoreUnused: (name: string) => boolean = () => false): void {
  const usage = new WeightUsage();
  for (const [name, shape] of expected) usage.record(store, name, shape);
  usage.check(store, file, ignoreUnused);
}
