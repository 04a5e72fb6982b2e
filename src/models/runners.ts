// Builds the decoder graphs of an architecture and wraps them as GraphRunners for a
// backend: onnxruntime (fast) or the float64 reference interpreter (the oracle).

import { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { buildDecoderGraph, type CausalLMArch, type DecoderGraphOptions } from './causal-lm.ts';
import { VarBuilder, type VarBuilderOptions, type WeightStore } from '../nn/var-builder.ts';
import type { DecoderRunners, GraphRunner } from './decoder-session.ts';
import { evaluate } from '../interp/index.ts';

export function decoderGraph<C>(arch: CausalLMArch<C>, config: C, store: WeightStore, vbOpts: VarBuilderOptions, o: DecoderGraphOptions, strict = true): Graph {
  const vb = new VarBuilder(new Graph(`${arch.modelType}-${o.cache ? 'kv' : 'nokv'}-${o.lastLogitsOnly ? 'last' : 'all'}`), store, vbOpts);
  const g = buildDecoderGraph(arch, config, vb, o);
  if (strict) vb.usage.check(store, arch.modelType, (n) => arch.ignoreTensor?.(n) ?? false);
  return g;
}

/** Runs a graph with the reference interpreter (params loaded once, on first run). */
export function interpreterRunner(graph: Graph): GraphRunner {
  let params: Promise<Record<string, HostTensor>> | undefined;
  return {
    async run(feeds) {
      params ??= (async () => {
        const out: Record<string, HostTensor> = {};
        for (const p of graph.params) {
          const s = p.source;
          const v = typeof s === 'function' ? await s() : s;
          if (v) out[p.name!] = v as HostTensor;
        }
        return out;
      })();
      return evaluate(graph, feeds, { params: await params });
    },
  };
}

export function interpreterDecoderRunners<C>(arch: CausalLMArch<C>, config: C, store: WeightStore, vbOpts: VarBuilderOptions): DecoderRunners {
  return {
    last: async () => interpreterRunner(decoderGraph(arch, config, store, vbOpts, { cache: true, lastLogitsOnly: true })),
    all: async () => interpreterRunner(decoderGraph(arch, config, store, vbOpts, { cache: true, lastLogitsOnly: false })),
  };
}
