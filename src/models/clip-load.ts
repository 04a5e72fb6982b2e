// CLIP as an image encoder (`slm embed --image`): a CLIPVisionModel(WithProjection) folder
// (model_type clip_vision_model) or a full CLIPModel folder (model_type clip: its text tower is
// ignored), run with buildClipVisionGraph. The embedding is image_embeds (visual_projection of
// the pooled CLS) when the checkpoint has a projection, else pooler_output. Preprocessing is
// the folder's preprocessor_config.json (shortest side, centre crop, mean/std; OpenAI CLIP's
// defaults when absent), with the same Pillow-exact bicubic resize as LLaVA.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { openModelFolder } from '../formats/model-folder.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { VarBuilder, type LinearDType } from '../nn/var-builder.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { interpreterRunner } from './runners.ts';
import type { GraphRunner } from './decoder-session.ts';
import type { ModelArch } from './causal-lm.ts';
import { compile } from '../runtime/session.ts';
import { buildClipVisionGraph, clipVisionConfigToHf, parseClipVisionConfig, type ClipVisionConfig } from './clip.ts';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, preprocessClip, type ClipPreprocessConfig } from '../vision/preprocess.ts';
import { readImageInput, type ImageInput } from '../vision/load-image.ts';
import { SlmError } from '../errors.ts';

/** The ModelArch surface of a CLIPVisionModel(WithProjection) (writing test folders). */
export const clipVisionArch: ModelArch<ClipVisionConfig> = {
  modelType: 'clip_vision_model',
  parseConfig: (json, file) => parseClipVisionConfig(json, file),
  toHfConfig: (c) => ({ ...clipVisionConfigToHf(c), architectures: [c.projectionDim ? 'CLIPVisionModelWithProjection' : 'CLIPVisionModel'] }),
  vocabSize: () => 0,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.grid * c.grid + 1,
};

/** preprocessor_config.json → resize / crop / normalisation (CLIPImageProcessor fields). */
export function parseClipPreprocessor(json: Record<string, unknown> | undefined, imageSize: number): ClipPreprocessConfig {
  const j = json ?? {};
  const side = (v: unknown, key: 'shortest_edge' | 'height'): number | undefined => (typeof v === 'number' ? v : typeof v === 'object' && v ? ((v as Record<string, unknown>)[key] as number | undefined) : undefined);
  const size = side(j.size, 'shortest_edge') ?? imageSize;
  const crop = side(j.crop_size, 'height') ?? imageSize;
  const mean = Array.isArray(j.image_mean) ? (j.image_mean as number[]) : [...OPENAI_CLIP_MEAN];
  const std = Array.isArray(j.image_std) ? (j.image_std as number[]) : [...OPENAI_CLIP_STD];
  if (crop !== imageSize) throw new SlmError('FORMAT_ERROR', `preprocessor_config.json: crop_size ${crop} differs from the tower's image_size ${imageSize}`);
  if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0))) throw new SlmError('FORMAT_ERROR', 'preprocessor_config.json: image_mean and image_std must be 3 numbers (std > 0)');
  if (!(size >= crop)) throw new SlmError('FORMAT_ERROR', `preprocessor_config.json: size ${size} is smaller than crop_size ${crop}`);
  return { size, crop, mean, std, pad: false };
}

export class ClipImageEncoder {
  private constructor(
    readonly config: ClipVisionConfig,
    readonly preprocess: ClipPreprocessConfig,
    private readonly runner: GraphRunner,
    private readonly dtype: 'float32' | 'float64',
    private readonly checkpoint: Checkpoint,
  ) {}

  /** Length of the vectors embed returns. */
  get dimension(): number {
    return this.config.projectionDim ?? this.config.hidden;
  }

  static async load(path: string, o: { threads?: number; backend?: 'onnxruntime' | 'interpreter'; dtype?: LinearDType } = {}): Promise<ClipImageEncoder> {
    const folder = await openModelFolder(path, { allowUnsupported: true });
    const type = folder.declaredModelType;
    if (type !== 'clip_vision_model' && type !== 'clip') throw new SlmError('UNSUPPORTED', `${path}: model_type ${type} is not a CLIP image encoder (clip_vision_model, clip)`);
    const vc = type === 'clip' ? { ...(folder.config.vision_config as Record<string, unknown>), projection_dim: folder.config.projection_dim ?? 512 } : folder.config;
    const config = parseClipVisionConfig(vc, `${path}/config.json`);
    const pre = await readFile(join(path, 'preprocessor_config.json'), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
    const preprocess = parseClipPreprocessor(pre, config.imageSize);
    const checkpoint = await folder.openWeights();
    try {
      const store = new CheckpointStore(checkpoint);
      const interp = o.backend === 'interpreter';
      const dtype = interp ? 'float64' : 'float32';
      const vb = new VarBuilder(new Graph('clip-image'), store, { dtype, linear: interp ? 'float32' : (o.dtype ?? 'float32') });
      const g = buildClipVisionGraph(vb, config);
      const ignore = (n: string) => n.endsWith('embeddings.position_ids') || (type === 'clip' && (n.startsWith('text_model.') || n === 'text_projection.weight' || n === 'logit_scale'));
      vb.usage.check(store, path, ignore);
      const runner = interp ? interpreterRunner(g) : await compile(g, { threads: o.threads, cacheDir: false }).then((cg): GraphRunner => ({ run: (f, ro) => cg.run(f, ro?.fetches ?? undefined), dispose: () => cg.dispose() }));
      return new ClipImageEncoder(config, preprocess, runner, dtype, checkpoint);
    } catch (e) {
      await checkpoint.close();
      throw e;
    }
  }

  /** One embedding per image (image_embeds, or pooler_output without a projection); unit length with `normalize`. */
  async embed(images: readonly ImageInput[], o: { normalize?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    const S = this.config.imageSize;
    const out: Float32Array[] = [];
    for (const im of images) {
      const px = preprocessClip(await readImageInput(im), this.preprocess);
      const r = await this.runner.run({ pixel_values: { dtype: this.dtype, shape: [1, 3, S, S], data: this.dtype === 'float64' ? Float64Array.from(px.data) : px.data } as HostTensor }, { signal: o.signal });
      const v = Float32Array.from((r.image_embeds ?? r.pooler_output)!.data as Float32Array);
      if (o.normalize) {
        const n = Math.hypot(...v) || 1;
        for (let i = 0; i < v.length; i++) v[i]! /= n;
      }
      out.push(v);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.runner.dispose?.();
    await this.checkpoint.close();
  }
}
