// Weights that come from no checkpoint: the list of tensors an architecture asks for
// (found by building its graph once against an empty store), and random initial values
// for them, as Hugging Face initialises Llama/Phi (normal(0, std) for projections and
// embeddings, ones for norm weights, zeros for biases).

import { Graph } from '../ir/graph.ts';
import type { CausalLMArch } from '../models/causal-lm.ts';
import { buildDecoderGraph } from '../models/causal-lm.ts';
import { VarBuilder, type WeightStore } from './var-builder.ts';
import { Rng, deriveSeed } from '../util/rng.ts';
import { SlmError } from '../errors.ts';

/** A store with no tensors (listing what a graph asks for). */
export const EMPTY: WeightStore = {
  shape: () => undefined,
  loadF32: async (n) => {
    throw new SlmError('NOT_FOUND', `no tensor ${n}`);
  },
  names: () => [],
};

/** Checkpoint tensor names and shapes the architecture uses for this config. */
export function listWeights<C>(arch: CausalLMArch<C>, config: C): Map<string, number[]> {
  const vb = new VarBuilder(new Graph('list-weights'), EMPTY, { dtype: 'float32', linear: 'float32' });
  buildDecoderGraph(arch, config, vb, { cache: false, lastLogitsOnly: false });
  return vb.usage.requested;
}

/** Float32 tensors held in memory, e.g. random initial weights or weights being trained. */
export class MemoryWeightStore implements WeightStore {
  constructor(readonly tensors: Map<string, { shape: number[]; data: Float32Array }>) {}
  shape(name: string) {
    return this.tensors.get(name)?.shape;
  }
  async loadF32(name: string) {
    const t = this.tensors.get(name);
    if (!t) throw new SlmError('NOT_FOUND', `no tensor ${name}`);
    return t.data;
  }
  names() {
    return [...this.tensors.keys()];
  }
}

export function isNormWeight(name: string): boolean {
  return /(norm|layernorm|LayerNorm|ln)[^.]*\.weight$/.test(name);
}

/** Random initial weights; each tensor's stream depends only on (seed, name). */
export function randomWeights(shapes: Map<string, number[]>, seed: number, std = 0.02): MemoryWeightStore {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (isNormWeight(name)) data.fill(1);
    else if (!name.endsWith('.bias')) {
      const rng = new Rng(deriveSeed(seed, name));
      for (let i = 0; i < n; i += 2) {
        // Box–Muller: two normals per pair of uniforms.
        const u = 1 - rng.next();
        const v = rng.next();
        const r = Math.sqrt(-2 * Math.log(u)) * std;
        data[i] = r * Math.cos(2 * Math.PI * v);
        if (i + 1 < n) data[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
    }
    out.set(name, { shape, data });
  }
  return new MemoryWeightStore(out);
}
