// LoRA (Hu et al.) on chosen Linear layers, in the PEFT layout:
//
//   y = W x + b + (alpha / r) · B (A (dropout(x)))        A [r, in], B [out, r]
//
// The adapter is a VarBuilder `linearAdapter` hook (src/nn/layers.ts Linear), so no
// architecture file knows about it. Adapter weights are named `<module>.lora_A.weight` /
// `<module>.lora_B.weight` in the graph (e.g. model.layers.0.self_attn.q_proj.lora_A.weight)
// and `base_model.model.<module>.lora_{A,B}.weight` in adapter_model.safetensors, as PEFT
// saves them. Dropout is a multiplicative mask input `lora_dropout.<module>` (0 or 1/(1-p))
// fed from the trainer's seeded RNG, so a resumed run draws the same masks.
//
// Init (PEFT's default): A ~ kaiming-uniform(a=√5) = U(-1/√in, 1/√in), B = 0, so training
// starts exactly at the base model.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Graph, type Tensor } from '../ir/graph.ts';
import { add, linear, mul } from '../ir/builder.ts';
import type { CausalLMArch } from '../models/causal-lm.ts';
import { buildDecoderGraph } from '../models/causal-lm.ts';
import { VarBuilder, type LinearAdapter, type WeightStore } from '../nn/var-builder.ts';
import { MemoryWeightStore } from '../nn/init-store.ts';
import { openSafetensors } from '../formats/safetensors.ts';
import { writeSafetensors } from '../formats/safetensors-writer.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { Rng, deriveSeed } from '../util/rng.ts';
import { FormatError, SlmError, UnsupportedError } from '../errors.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  /** Dropout probability on the adapter's input (0: none). */
  dropout: number;
  /** Module names (last path segment, e.g. q_proj) or full module paths; a string is a regex (PEFT). */
  targetModules: string[] | string;
  /** rsLoRA scaling alpha/√r instead of alpha/r. */
  useRslora?: boolean;
}

export const PEFT_PREFIX = 'base_model.model.';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

export function isLoraWeight(name: string): boolean {
  return /\.lora_[AB]\.weight$/.test(name);
}

export const dropoutMaskName = (module: string): string => `lora_dropout.${module}`;

/** PEFT's rule: a list entry matches the module name or its last dotted suffix; a string is a full-match regex. */
export function isTargetModule(module: string, targets: LoraConfig['targetModules']): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(module);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

// An embedding matrix reused as the tied LM head is an Embedding in PEFT, not a Linear.
const isEmbeddingModule = (module: string) => /(^|\.)(embed_tokens|wte|word_embeddings|shared)$/.test(module);

/**
 * The adapter hook. With `dropoutMasks`, each adapted module with dropout > 0 reads a mask
 * input shaped like its input (training graphs only: needs static shapes).
 */
export function loraAdapter(c: LoraConfig, opts: { dropoutMasks?: boolean } = {}): LinearAdapter {
  const scale = loraScale(c);
  return (vb, x, y, inF, outF) => {
    const module = vb.prefix;
    if (!isTargetModule(module, c.targetModules) || isEmbeddingModule(module)) return y;
    const A = vb.get('lora_A.weight', [c.r, inF]);
    const B = vb.get('lora_B.weight', [outF, c.r]);
    let xin: Tensor = x;
    if (opts.dropoutMasks && c.dropout > 0) xin = mul(x, vb.graph.input(dropoutMaskName(module), x.dtype, x.shape));
    return add(y, mul(linear(linear(xin, A), B), scale));
  };
}

export interface LoraTarget {
  module: string;
  inFeatures: number;
  outFeatures: number;
}

const EMPTY: WeightStore = { shape: () => undefined, loadF32: async (n) => Promise.reject(new SlmError('NOT_FOUND', n)), names: () => [] };

/** The Linear modules of an architecture that the config's target_modules select (graph order). */
export function loraTargets<C>(arch: CausalLMArch<C>, config: C, c: LoraConfig): LoraTarget[] {
  return loraTargetsOf((vb) => void buildDecoderGraph(arch, config, vb, { cache: false, lastLogitsOnly: false }), arch.modelType, c);
}

/** The Linear layers a graph builder reads that the LoRA config targets (any architecture). */
export function loraTargetsOf(build: (vb: VarBuilder) => void, modelType: string, c: LoraConfig): LoraTarget[] {
  const all: LoraTarget[] = [];
  const record: LinearAdapter = (vb, _x, y, inFeatures, outFeatures) => {
    if (!all.some((t) => t.module === vb.prefix)) all.push({ module: vb.prefix, inFeatures, outFeatures });
    return y;
  };
  build(new VarBuilder(new Graph('lora-targets'), EMPTY, { dtype: 'float32', linear: 'float32', linearAdapter: record }));
  const chosen = all.filter((t) => isTargetModule(t.module, c.targetModules) && !isEmbeddingModule(t.module));
  if (chosen.length === 0) {
    const names = [...new Set(all.map((t) => t.module.split('.').at(-1)))].join(', ');
    throw new SlmError('INVALID_ARGUMENT', `lora target_modules ${JSON.stringify(c.targetModules)} match no Linear layer of ${modelType}; its Linear layers are: ${names}`);
  }
  return chosen;
}

/** Fresh adapter weights (PEFT default init); each tensor's stream depends on (seed, name). */
export function initLoraWeights(targets: LoraTarget[], c: LoraConfig, seed: number): MemoryWeightStore {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of targets) {
    const a = new Float32Array(c.r * t.inFeatures);
    const bound = 1 / Math.sqrt(t.inFeatures);
    const rng = new Rng(deriveSeed(seed, 'lora', t.module));
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    out.set(`${t.module}.lora_A.weight`, { shape: [c.r, t.inFeatures], data: a });
    out.set(`${t.module}.lora_B.weight`, { shape: [t.outFeatures, c.r], data: new Float32Array(t.outFeatures * c.r) });
  }
  return new MemoryWeightStore(out);
}

/** Reads from the first store that has a tensor (base model + adapter for unmerged graphs). */
export class OverlayStore implements WeightStore {
  constructor(private readonly stores: WeightStore[]) {}
  private find(name: string): WeightStore | undefined {
    return this.stores.find((s) => s.shape(name) !== undefined);
  }
  shape(name: string) {
    return this.find(name)?.shape(name);
  }
  loadF32(name: string) {
    const s = this.find(name);
    if (!s) return Promise.reject(new SlmError('NOT_FOUND', `no tensor '${name}'`));
    return s.loadF32(name);
  }
  names() {
    return [...new Set(this.stores.flatMap((s) => s.names()))];
  }
}

/** Base weights with every adapter folded in: W' = W + scale · B A (lazy, per tensor). */
export class MergedLoraStore implements WeightStore {
  private readonly scale: number;
  constructor(
    private readonly base: WeightStore,
    private readonly adapter: WeightStore,
    c: LoraConfig,
  ) {
    this.scale = loraScale(c);
  }
  shape(name: string) {
    return this.base.shape(name);
  }
  names() {
    return this.base.names();
  }
  async loadF32(name: string): Promise<Float32Array> {
    const w = await this.base.loadF32(name);
    const module = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : undefined;
    const aName = `${module}.lora_A.weight`;
    if (!module || this.adapter.shape(aName) === undefined) return w;
    const [r, inF] = this.adapter.shape(aName)!;
    const [outF] = this.adapter.shape(`${module}.lora_B.weight`)!;
    const shape = this.base.shape(name)!;
    if (shape[0] !== outF || shape[1] !== inF) throw new SlmError('SHAPE_MISMATCH', `${name} is [${shape}], its adapter is [${outF}, ${r}]·[${r}, ${inF}]`);
    const A = await this.adapter.loadF32(aName);
    const B = await this.adapter.loadF32(`${module}.lora_B.weight`);
    const merged = Float32Array.from(w);
    const row = new Float64Array(inF);
    for (let o = 0; o < outF; o++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const bk = B[o * r + k]!;
        if (bk === 0) continue;
        for (let i = 0; i < inF; i++) row[i] += bk * A[k * inF + i]!;
      }
      for (let i = 0; i < inF; i++) merged[o * inF + i] = w[o * inF + i]! + this.scale * row[i]!;
    }
    return merged;
  }
}

// ---- PEFT files ---------------------------------------------------------------------------

const AdapterConfigSchema = z.object({
  peft_type: z.literal('LORA'),
  task_type: z.string().nullable().optional(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).max(1).default(0),
  target_modules: z.union([z.array(z.string()).min(1), z.string()]),
  base_model_name_or_path: z.string().nullable().optional(),
  fan_in_fan_out: z.boolean().default(false),
  use_rslora: z.boolean().default(false),
  use_dora: z.boolean().default(false),
  bias: z.string().default('none'),
  modules_to_save: z.array(z.string()).nullable().optional(),
});

export interface SavedAdapter {
  config: LoraConfig;
  baseModel: string | undefined;
  /** Adapter tensors by graph name (`<module>.lora_A.weight`), float32. */
  weights: MemoryWeightStore;
}

export function adapterConfigJson(c: LoraConfig, baseModel: string | undefined): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: c.targetModules,
    base_model_name_or_path: baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_rslora: c.useRslora ?? false,
    use_dora: false,
    revision: null,
  };
}

/** Writes adapter_config.json and adapter_model.safetensors (float32 or float64 tensors). */
export async function savePeftAdapter(
  dir: string,
  c: LoraConfig,
  baseModel: string | undefined,
  tensors: { name: string; shape: number[]; data: Float32Array | Float64Array }[],
  /** Keys that differ from a causal-LM adapter (e.g. task_type SEQ_CLS, modules_to_save). */
  configExtra: Record<string, unknown> = {},
): Promise<void> {
  await writeSafetensors(
    join(dir, ADAPTER_WEIGHTS_FILE),
    tensors.map((t) => ({ name: PEFT_PREFIX + t.name, dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape, data: t.data })),
    { format: 'pt' },
  );
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify({ ...adapterConfigJson(c, baseModel), ...configExtra }, null, 2) + '\n');
}

/**
 * `modulesToSave`: accept PEFT's modules_to_save (a sequence classifier's head trained in full,
 * saved as `base_model.model.<module>.<param>`); those tensors come back under their graph names
 * beside the LoRA A/B pairs. Off by default: a causal LM has nowhere to put them.
 */
export async function loadPeftAdapter(dir: string, opts: { modulesToSave?: boolean } = {}): Promise<SavedAdapter> {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, undefined, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON: ${(e as Error).message}`);
  }
  const r = AdapterConfigSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new FormatError(file, issue.path.join('.') || undefined, issue.message);
  }
  const j = r.data;
  if (j.use_dora) throw new UnsupportedError(`${file}: DoRA adapters (use_dora) are not supported`);
  if (j.fan_in_fan_out) throw new UnsupportedError(`${file}: fan_in_fan_out adapters (GPT-2 Conv1D) are not supported`);
  if (j.bias !== 'none') throw new UnsupportedError(`${file}: bias '${j.bias}' is not supported (only 'none')`);
  const saved = j.modules_to_save ?? [];
  if (saved.length && !opts.modulesToSave) throw new UnsupportedError(`${file}: modules_to_save is not supported`);
  const isSaved = (graphName: string) => saved.some((m) => graphName.startsWith(`${m}.`) || graphName.includes(`.${m}.`));
  const config: LoraConfig = { r: j.r, alpha: j.lora_alpha, dropout: j.lora_dropout, targetModules: j.target_modules, useRslora: j.use_rslora };
  const st = await openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  try {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, info] of st.tensors) {
      // PEFT saves without the adapter name; tolerate `.default.` from raw state dicts.
      const graphName = name.replace(/^base_model\.model\./, '').replace(/\.lora_([AB])\.default\.weight$/, '.lora_$1.weight');
      if (!isLoraWeight(graphName) && isSaved(graphName)) {
        weights.set(graphName, { shape: info.shape, data: await st.readF32(name) });
        continue;
      }
      if (!isLoraWeight(graphName)) throw new FormatError(st.path, name, saved.length ? `neither a LoRA A/B weight nor in modules_to_save [${saved.join(', ')}]` : 'not a LoRA A/B weight');
      const [d0, d1] = info.shape;
      if (info.shape.length !== 2 || (graphName.endsWith('lora_A.weight') ? d0 !== j.r : d1 !== j.r)) {
        throw new FormatError(st.path, name, `shape [${info.shape}] does not fit rank ${j.r}`);
      }
      weights.set(graphName, { shape: info.shape, data: await st.readF32(name) });
    }
    return { config, baseModel: j.base_model_name_or_path ?? undefined, weights: new MemoryWeightStore(weights) };
  } finally {
    await st.close();
  }
}
