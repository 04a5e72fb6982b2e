// LLaVA-Phi vision tower benchmark (issue 20): time to encode one image with a CLIP
// ViT-L/14-336-shaped tower (hidden 1024, 16 heads, MLP 4096, 577 tokens, random weights), as
// LLaVA runs it (hidden_states[-2]: 23 of the 24 layers, CLS dropped) plus the mlp2x_gelu
// projector into Phi-2's 2560, at float32 / float16 / q8 linears, against the GEMM bound of
// this machine: the FLOP count of the run divided by the speed of the tower's biggest GEMM
// ([577 × 1024] · [1024 × 4096], fc1) timed alone in onnxruntime at the same thread count.
// Goal: the tower at ≥ 70% of that bound.
//
//   node --import tsx bench/llava.ts [--layers N] [--threads 1,2] [--dtypes float32,q8] [--repeats R]
// --layers shortens the tower (the per-layer work is what the bound fraction measures) when
// the machine is too loaded or short of memory for the 300M-parameter float32 shape.
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { Graph } from '../src/ir/graph.ts';
import { compile } from '../src/runtime/session.ts';
import { VarBuilder, type LinearDType } from '../src/nn/var-builder.ts';
import { EMPTY, randomWeights } from '../src/nn/init-store.ts';
import { buildLlavaImageGraph, listLlavaWeights, parseLlavaConfig, type LlavaConfig } from '../src/models/llava.ts';

export interface LlavaBenchRow {
  dtype: LinearDType;
  threads: number;
  layers: number;
  /** Median ms to encode one image (tower + projector). */
  encode_ms: number;
  gflop: number;
  /** GFLOP/s of the fc1 GEMM alone at this thread count (float32). */
  gemm_gflops: number;
  /** (gflop / gemm_gflops) / encode time. */
  bound_fraction: number;
  load1: number;
}

/** A llava_phi config with a CLIP-L/14-336 tower and Phi-2's hidden size (the text side is not built here). */
export function llavaPhiConfig(selectLayers = 23): LlavaConfig {
  return parseLlavaConfig({
    model_type: 'llava_phi', vocab_size: 51200, hidden_size: 2560, intermediate_size: 10240, num_hidden_layers: 32, num_attention_heads: 32,
    max_position_embeddings: 2048, partial_rotary_factor: 0.4, hidden_act: 'gelu_new', layer_norm_eps: 1e-5, image_aspect_ratio: 'pad',
    vision_config: {
      vision_tower: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: selectLayers + 1, num_attention_heads: 16, image_size: 336, patch_size: 14, hidden_act: 'quick_gelu', mm_vision_select_layer: -2, mm_vision_select_feature: 'patch' },
      mm_projector: { mm_projector_type: 'mlp2x_gelu', mm_hidden_size: 1024, hidden_size: 2560 },
    },
  });
}

/** FLOPs of one image through `layers` CLIP layers + patch embedding + projector (multiply-adds × 2). */
export function towerFlops(c: LlavaConfig, layers: number): number {
  const { hidden: H, intermediate: I, grid: G, patchSize: p } = c.vision;
  const T = G * G + 1;
  const perLayer = 2 * T * (4 * H * H + 2 * H * I) + 2 * 2 * T * T * H;
  const patch = 2 * G * G * 3 * p * p * H;
  const proj = 2 * G * G * (H * c.text.hidden + c.text.hidden * c.text.hidden);
  return layers * perLayer + patch + proj;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function gemmGflops(threads: number, repeats: number): Promise<number> {
  const [M, K, N] = [577, 1024, 4096];
  const g = new Graph('gemm-bound');
  const x = g.input('x', 'float32', [M, K]);
  const w = g.param('w', 'float32', [K, N], { dtype: 'float32', shape: [K, N], data: Float32Array.from({ length: K * N }, (_, i) => Math.sin(i) * 0.02) });
  g.setOutputs({ y: x.matmul(w) });
  const cg = await compile(g, { threads, cacheDir: false });
  const feed = { x: { dtype: 'float32' as const, shape: [M, K], data: Float32Array.from({ length: M * K }, (_, i) => Math.cos(i)) } };
  try {
    await cg.run(feed);
    const ms: number[] = [];
    for (let r = 0; r < Math.max(3, repeats * 3); r++) {
      const t0 = performance.now();
      await cg.run(feed);
      ms.push(performance.now() - t0);
    }
    return (2 * M * K * N) / (Math.min(...ms) / 1000) / 1e9;
  } finally {
    await cg.dispose();
  }
}

export async function runLlavaTowerBench(o: { layers?: number; threads?: number[]; dtypes?: LinearDType[]; repeats?: number; log?: (s: string) => void } = {}): Promise<LlavaBenchRow[]> {
  const log = o.log ?? (() => {});
  const layers = o.layers ?? 23;
  const c = llavaPhiConfig(layers);
  const shapes = listLlavaWeights(c, (g) => new VarBuilder(g, EMPTY, { dtype: 'float32', linear: 'float32' }));
  // Only the tower and projector: the image graph asks for nothing else.
  const vision = new Map([...shapes].filter(([n]) => n.startsWith('model.vision_tower.') || n.startsWith('model.mm_projector.')));
  log(`llava tower bench: ${layers} CLIP-L layers, ${[...vision.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) / 1e6} M parameters (random)`);
  const store = randomWeights(vision, 3, 0.02);
  const S = c.vision.imageSize;
  const px = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37));
  const gflop = towerFlops(c, layers) / 1e9;
  const rows: LlavaBenchRow[] = [];
  for (const threads of o.threads ?? [1, 2]) {
    const bound = await gemmGflops(threads, o.repeats ?? 3);
    for (const dtype of o.dtypes ?? (['float32', 'float16', 'q8'] as LinearDType[])) {
      const vb = new VarBuilder(new Graph(`llava-tower-${dtype}`), store, { dtype: 'float32', linear: dtype });
      const cg = await compile(buildLlavaImageGraph(vb, c), { threads, cacheDir: false });
      try {
        const feed = { pixel_values: { dtype: 'float32' as const, shape: [1, 3, S, S], data: px } };
        await cg.run(feed);
        const ms: number[] = [];
        for (let r = 0; r < (o.repeats ?? 3); r++) {
          const t0 = performance.now();
          await cg.run(feed);
          ms.push(performance.now() - t0);
        }
        const encode = median(ms);
        const row = { dtype, threads, layers, encode_ms: encode, gflop, gemm_gflops: bound, bound_fraction: gflop / bound / (encode / 1000), load1: loadavg()[0]! };
        log(`  ${dtype} ${threads} thread(s): ${encode.toFixed(0)} ms/image, ${(gflop / (encode / 1000)).toFixed(1)} GFLOP/s, GEMM bound ${bound.toFixed(1)} GFLOP/s → ${(row.bound_fraction * 100).toFixed(0)}% (load ${row.load1.toFixed(1)})`);
        rows.push(row);
      } finally {
        await cg.dispose();
      }
    }
  }
  return rows;
}

/** The BENCHMARKS.md section. */
export function llavaSection(rows: LlavaBenchRow[]): string[] {
  const layers = rows[0]?.layers ?? 23;
  return [
    '',
    `## LLaVA-Phi vision tower (CLIP ViT-L/14-336 shape, ${layers} layers = hidden_states[-2]${layers === 23 ? '' : ' shortened by --layers'}, + mlp2x_gelu projector)`,
    '',
    'One 336 × 336 image (577 tokens), random weights (`bench/llava.ts`). GEMM bound: the run\'s FLOPs at the speed of the',
    "tower's fc1 GEMM ([577 × 1024] · [1024 × 4096], float32) timed alone at the same thread count. Goal: ≥ 70% of the bound.",
    '',
    '| linears | threads | ms / image | GFLOP | GFLOP/s | GEMM bound GFLOP/s | fraction of bound | load |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.dtype} | ${r.threads} | ${r.encode_ms.toFixed(0)} | ${r.gflop.toFixed(1)} | ${(r.gflop / (r.encode_ms / 1000)).toFixed(1)} | ${r.gemm_gflops.toFixed(1)} | ${(r.bound_fraction * 100).toFixed(0)}% | ${r.load1.toFixed(1)} |`),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const rows = await runLlavaTowerBench({
    layers: arg('--layers') ? Number(arg('--layers')) : undefined,
    threads: arg('--threads')?.split(',').map(Number),
    dtypes: arg('--dtypes')?.split(',') as LinearDType[] | undefined,
    repeats: arg('--repeats') ? Number(arg('--repeats')) : undefined,
    log: (s) => process.stderr.write(s + '\n'),
  });
  process.stdout.write(llavaSection(rows).join('\n') + '\n');
}
