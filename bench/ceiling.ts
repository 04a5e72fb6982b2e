// What onnxruntime's int4 kernel alone allows: a graph of nothing but a bench model's linear
// layers (every q/k/v/o/gate/up/down of every layer, then the LM head) as q4 MatMulNBits at
// accuracy level 4, exactly the kernels and weight shapes the decoder runs, fed one token
// (M = 1) per run. Its time per run bounds decode from below (no attention, norms, rotary,
// KV cache, sampling or session code), so 1 / time is a ceiling on decode tok/s; and the
// resident memory a session gains while prepacking those weights bounds peak RSS from below.
//
// Two layouts are timed and the faster one counts: separate projections (as the decoder
// runs them) and fused ones (q|k|v in one MatMulNBits, gate|up in one), in case fusing would
// raise the ceiling. Weight values do not change the kernels' speed, so the codes are a fixed
// xorshift pattern, distinct per tensor (cheap to generate for a 1.1B shape).
//
// Each measurement runs in a child process (bench/ceiling-child.ts) so RSS is its own; the
// parent builds the model file once into the bench cache.
//
//   node --import tsx bench/ceiling.ts [--models stories15M,TinyLlama-1.1B] [--threads 1,2]
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as ir from '../src/ir/index.ts';
import type { QuantizedWeight } from '../src/ir/index.ts';
import { compile } from '../src/runtime/session.ts';
import { BENCH_MODELS, type BenchModel } from './decoder.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VOCAB = 32000;

export type CeilingLayout = 'separate' | 'fused';

export interface CeilingRow {
  model: BenchModel;
  threads: number;
  layout: CeilingLayout;
  /** Linear weights in the graph (all layers and the LM head). */
  linear_params: number;
  /** Median wall time of one M = 1 run through every linear layer (ms). */
  linears_ms: number;
  /** 1000 / linears_ms: decode tok/s if nothing else took any time. */
  ceiling_tok_s: number;
  /** RSS of the process before the session (node, tsx, onnxruntime loaded), MB. */
  base_rss_mb: number;
  /** RSS the session added (prepacked weights, mapped file residue), MB. */
  session_rss_mb: number;
  /** Of which anonymous memory (the prepacked weights), MB. */
  session_anon_mb: number;
}

/**
 * Distinct bytes per tensor (xorshift from `seed`): onnxruntime shares identical initializers,
 * and identical layers would also sit in the CPU cache, both of which would flatter the ceiling.
 */
function patternWeight(n: number, k: number, seed: number): QuantizedWeight {
  const codes = new Uint8Array((n * k) / 2);
  const words = new Uint32Array(codes.buffer);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  const scales = new Float32Array((n * k) / 32);
  for (let i = 0; i < scales.length; i++) scales[i] = 0.01 + ((i * 7 + seed) % 13) * 1e-4;
  return { dtype: 'q4', shape: [n, k], codes, scales };
}

/** The bench model's linear layers alone: x [1, hidden] -> ... -> logits [1, vocab]. */
export function linearsOnlyGraph(model: BenchModel, layout: CeilingLayout): { graph: ir.Graph; params: number } {
  const s = BENCH_MODELS[model];
  const H = s.hidden_size;
  const F = s.intermediate_size;
  const KV = (H / s.num_attention_heads) * s.num_key_value_heads;
  const g = new ir.Graph(`linears-${model}-${layout}`);
  let params = 0;
  let tensors = 0;
  const W = (name: string, n: number, k: number) => {
    params += n * k;
    const seed = ++tensors;
    return g.param(name, 'q4', [n, k], () => patternWeight(n, k, seed));
  };
  let x = g.input('x', 'float32', [1, H]);
  const outputs: Record<string, ir.Tensor> = {};
  for (let l = 0; l < s.num_hidden_layers; l++) {
    let q: ir.Tensor;
    let gate: ir.Tensor;
    let up: ir.Tensor;
    if (layout === 'fused') {
      const qkv = ir.linear(x, W(`qkv.${l}`, H + 2 * KV, H));
      q = ir.slice(qkv, 1, 0, H);
      const gu = ir.linear(ir.linear(q, W(`o.${l}`, H, H)), W(`gate_up.${l}`, 2 * F, H));
      gate = ir.slice(gu, 1, 0, F);
      up = ir.slice(gu, 1, F, 2 * F);
    } else {
      q = ir.linear(x, W(`q.${l}`, H, H));
      // k and v leave as outputs (a few hundred floats each) so nothing prunes them.
      outputs[`k_out.${l}`] = ir.linear(x, W(`k.${l}`, KV, H));
      outputs[`v_out.${l}`] = ir.linear(x, W(`v.${l}`, KV, H));
      const o = ir.linear(q, W(`o.${l}`, H, H));
      gate = ir.linear(o, W(`gate.${l}`, F, H));
      up = ir.linear(o, W(`up.${l}`, F, H));
    }
    x = ir.linear(ir.mul(gate, up), W(`down.${l}`, H, F));
  }
  outputs.logits = ir.linear(x, W('lm_head', VOCAB, H));
  g.setOutputs(outputs);
  return { graph: g, params };
}

function cacheDir(): string {
  return join(process.env.SLMKIT_BENCH_DIR || join(homedir(), '.cache', 'slmkit', 'bench'), 'ceiling-onnx');
}

/** Builds (once, cached) the linears-only model; returns the .onnx path. */
export async function linearsOnlyModel(model: BenchModel, layout: CeilingLayout): Promise<{ path: string; params: number }> {
  const { graph, params } = linearsOnlyGraph(model, layout);
  const c = await compile(graph, { cacheDir: cacheDir(), weightsVersion: `pattern-q4-v2-${model}-${layout}`, threads: 1, accuracyLevel: 4 });
  const path = c.modelPath;
  await c.dispose();
  return { path, params };
}

/**
 * Each configuration runs `repeats` times (default 3) and keeps its fastest run: the host's
 * cores are shared, and a ceiling should be the best the kernel did, not a noisy draw.
 */
export async function runCeilingBench(o: { models?: BenchModel[]; threads?: number[]; repeats?: number; log?: (s: string) => void } = {}): Promise<CeilingRow[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const rows: CeilingRow[] = [];
  for (const model of o.models ?? (Object.keys(BENCH_MODELS) as BenchModel[])) {
    for (const layout of ['separate', 'fused'] as const) {
      const { path, params } = await linearsOnlyModel(model, layout);
      for (const threads of o.threads ?? [1, 2]) {
        let r: Pick<CeilingRow, 'linears_ms' | 'base_rss_mb' | 'session_rss_mb' | 'session_anon_mb'> | undefined;
        for (let i = 0; i < Math.max(1, o.repeats ?? 3); i++) {
          const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/ceiling-child.ts', path, String(threads), String(BENCH_MODELS[model].hidden_size)], { cwd: ROOT, maxBuffer: 1 << 20 });
          const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as NonNullable<typeof r>;
          if (!r || got.linears_ms < r.linears_ms) r = got;
        }
        const best = r!;
        const row: CeilingRow = { model, threads, layout, linear_params: params, ...best, ceiling_tok_s: 1000 / best.linears_ms };
        log(`  ceiling ${model} ${layout} threads ${threads}: linears ${best.linears_ms.toFixed(2)} ms/token (≤ ${row.ceiling_tok_s.toFixed(1)} tok/s), session +${best.session_rss_mb.toFixed(0)} MB RSS`);
        rows.push(row);
      }
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1]?.split(',') : undefined;
  };
  const rows = await runCeilingBench({ models: arg('models') as BenchModel[] | undefined, threads: arg('threads')?.map(Number) });
  console.log(JSON.stringify(rows, null, 1));
}
