// VarBuilder (after candle's): model code asks for weights by their checkpoint names
// under a prefix, e.g. vb.pp('model.layers.3.self_attn').linear('q_proj', ...). Each
// request becomes a graph param named with the full checkpoint name, whose bytes are
// loaded lazily from the store. Quantization lives here, behind `linearWeight`: an
// architecture file never knows whether its projections run as f32, q8 or q4.

import type { Graph, Tensor } from '../ir/graph.ts';
import type { HostTensor, QuantizedWeight } from '../ir/dtype.ts';
import { QUANT_BLOCK_SIZE } from '../ir/dtype.ts';
import { quantizeBlockwise } from '../quant/blockwise.ts';
import { f32ArrayToF16 } from '../formats/half.ts';
import { cast } from '../ir/builder.ts';
import { SlmError } from '../errors.ts';

/** Read access to checkpoint tensors by (Hugging Face) name. */
export interface WeightStore {
  /** Shape of a stored tensor, or undefined when absent. */
  shape(name: string): number[] | undefined;
  /** The tensor as float32, converting from its stored dtype. */
  loadF32(name: string): Promise<Float32Array>;
  /** A tensor already quantized in slmkit's q4/q8 layout (e.g. from GGUF Q4_0/Q8_0), if the store has one. */
  loadQuantized?(name: string, dtype: 'q4' | 'q8'): Promise<QuantizedWeight | undefined>;
  names(): string[];
}

/** How linear-layer weights are held at run time. */
export type LinearDType = 'float32' | 'float16' | 'q8' | 'q4';

export interface VarBuilderOptions {
  /** Compute dtype of float params (float64 for gradient checks against the interpreter). */
  dtype: 'float32' | 'float64';
  /** Linear weights: kept float, or quantized at load. Weights whose in-features are not a multiple of 32 stay float. */
  linear: LinearDType;
  /**
   * Training: weights for which this returns true become graph inputs (fed and updated
   * each step) instead of params with fixed data; they are never quantized.
   */
  trainable?: (name: string) => boolean;
  /** Extra terms added to every Linear's output (LoRA adapters; see src/train/lora.ts). */
  linearAdapter?: LinearAdapter;
  /**
   * Quantize embedding tables like the linears when `linear` is q4/q8 (a TinyLlama-sized
   * table is 262 MB as float32, 41 MB as q4); rows are dequantized by the gather. Off by
   * default (training graphs keep float tables); the inference loader turns it on.
   */
  quantizeEmbeddings?: boolean;
  /**
   * Inference: run linears that read the same input (q|k|v, gate|up) as one q4/q8 matmul over
   * their stacked weights (fusedLinearWeight). One int4 kernel call over N1+N2+N3 rows beats
   * three: the linears-only graph of bench/ceiling.ts ran 1.6 -> 1.25 ms (stories15M, 1 thread)
   * and 42.4 -> 40.3 ms (TinyLlama, 2 threads). Off by default (training keeps the weights apart).
   */
  fuseLinears?: boolean;
}

/** Given a Linear's builder (scoped to its module), input and output, returns the adapted output. */
export type LinearAdapter = (vb: VarBuilder, x: Tensor, y: Tensor, inFeatures: number, outFeatures: number) => Tensor;

/** Tracks which checkpoint tensors a model asked for, so loading can be strict. */
export class WeightUsage {
  readonly used = new Set<string>();
  readonly missing: string[] = [];
  readonly misshaped: string[] = [];
  /** Every tensor the model asked for, with the shape it expects (in request order). */
  readonly requested = new Map<string, number[]>();

  /** Records that the model asks for `full` with `shape`, and whether the store has it so. */
  record(store: WeightStore, full: string, shape: number[]): void {
    this.requested.set(full, shape);
    const got = store.shape(full);
    if (!got) {
      this.missing.push(full);
      return;
    }
    this.used.add(full);
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) this.misshaped.push(`${full} is [${got}], expected [${shape}]`);
  }

  /** Throws one error listing every missing, mis-shaped and unexpected tensor. */
  check(store: WeightStore, file: string, ignoreUnused: (name: string) => boolean = () => false): void {
    const unexpected = store.names().filter((n) => !this.used.has(n) && !ignoreUnused(n));
    const parts: string[] = [];
    if (this.missing.length) parts.push(`missing tensors: ${this.missing.slice(0, 20).join(', ')}${this.missing.length > 20 ? ` (+${this.missing.length - 20} more)` : ''}`);
    if (this.misshaped.length) parts.push(`wrong shapes: ${this.misshaped.slice(0, 20).join('; ')}`);
    if (unexpected.length) parts.push(`unexpected tensors: ${unexpected.slice(0, 20).join(', ')}${unexpected.length > 20 ? ` (+${unexpected.length - 20} more)` : ''}`);
    if (parts.length) throw new SlmError('FORMAT_ERROR', `${file}: checkpoint does not match the model: ${parts.join('; ')}`);
  }
}

export class VarBuilder {
  constructor(
    readonly graph: Graph,
    readonly store: WeightStore,
    readonly options: VarBuilderOptions,
    readonly prefix = '',
    readonly usage = new WeightUsage(),
  ) {}

  /** A builder for names under `prefix.` */
  pp(prefix: string | number): VarBuilder {
    return new VarBuilder(this.graph, this.store, this.options, this.path(String(prefix)), this.usage);
  }

  path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  has(name: string): boolean {
    return this.store.shape(this.path(name)) !== undefined;
  }

  private expect(full: string, shape: number[]): void {
    this.usage.record(this.store, full, shape);
  }

  /** A float param (norm weights, embeddings, biases) in the compute dtype. */
  get(name: string, shape: number[]): Tensor {
    const full = this.path(name);
    const existing = this.graph.params.find((p) => p.name === full) ?? this.graph.inputs.find((p) => p.name === full);
    if (existing) return existing;
    this.expect(full, shape);
    const dtype = this.options.dtype;
    if (this.options.trainable?.(full)) return this.graph.input(full, dtype, shape);
    const store = this.store;
    return this.graph.param(full, dtype, shape, async (): Promise<HostTensor> => {
      const f32 = await store.loadF32(full);
      return { dtype, shape, data: dtype === 'float64' ? Float64Array.from(f32) : f32 };
    });
  }

  /** The weight of a linear layer, stored [out, in]; quantized when the options say so. */
  linearWeight(name: string, outFeatures: number, inFeatures: number): Tensor {
    const q = this.options.linear;
    const full = this.path(name);
    if (q === 'float32' || this.options.dtype !== 'float32' || inFeatures % QUANT_BLOCK_SIZE !== 0 || this.options.trainable?.(full)) return this.get(name, [outFeatures, inFeatures]);
    // A quantized copy gets its own param name: the float original may also be used
    // (tied embeddings feed both a gather and the lm_head).
    if (q === 'float16') return cast(this.halfParam(full, [outFeatures, inFeatures]), 'float32');
    const qname = `${full}#${q}`;
    const existing = this.graph.params.find((p) => p.name === qname);
    if (existing) return existing;
    this.expect(full, [outFeatures, inFeatures]);
    const store = this.store;
    return this.graph.param(qname, q, [outFeatures, inFeatures], async (): Promise<QuantizedWeight> => {
      const pre = await store.loadQuantized?.(full, q);
      if (pre) return pre;
      return quantizeBlockwise(await store.loadF32(full), outFeatures, inFeatures, q);
    });
  }

  /**
   * The weights of several linears with the same input, stacked along out-features into one
   * quantized param (`<prefix>.{a,b,c}.weight#q4`), when `fuseLinears` is on and each of them
   * would be quantized; otherwise undefined (the caller runs them apart). Stacking rows of
   * [out, in] quantized blocks is exact: every row keeps its own codes and scales.
   */
  fusedLinearWeight(modules: readonly string[], outFeatures: readonly number[], inFeatures: number): Tensor | undefined {
    const q = this.options.linear;
    if (!this.options.fuseLinears || (q !== 'q4' && q !== 'q8') || this.options.dtype !== 'float32' || inFeatures % QUANT_BLOCK_SIZE !== 0 || this.options.linearAdapter) return undefined;
    const fulls = modules.map((m) => this.path(`${m}.weight`));
    if (fulls.some((f) => this.options.trainable?.(f))) return undefined;
    const name = `${this.path(`{${modules.join(',')}}`)}.weight#${q}`;
    const existing = this.graph.params.find((p) => p.name === name);
    if (existing) return existing;
    fulls.forEach((f, i) => this.expect(f, [outFeatures[i]!, inFeatures]));
    const rows = outFeatures.reduce((a, b) => a + b, 0);
    const store = this.store;
    return this.graph.param(name, q, [rows, inFeatures], async (): Promise<QuantizedWeight> => {
      const parts = await Promise.all(fulls.map(async (f, i) => (await store.loadQuantized?.(f, q)) ?? quantizeBlockwise(await store.loadF32(f), outFeatures[i]!, inFeatures, q)));
      const codes = new Uint8Array(parts.reduce((a, p) => a + p.codes.length, 0));
      const scales = new Float32Array(parts.reduce((a, p) => a + p.scales.length, 0));
      let c = 0;
      let sc = 0;
      for (const p of parts) {
        codes.set(p.codes, c);
        scales.set(p.scales, sc);
        c += p.codes.length;
        sc += p.scales.length;
      }
      return { dtype: q, shape: [rows, inFeatures], codes, scales };
    });
  }

  /**
   * An embedding table [rows, cols] for a row gather: q4/q8 when the linears are and
   * `quantizeEmbeddings` is set (the same param as a tied LM head's quantized weight),
   * otherwise the float param of `get`.
   */
  embeddingTable(name: string, rows: number, cols: number): Tensor {
    const q = this.options.linear;
    const full = this.path(name);
    if ((q !== 'q4' && q !== 'q8') || !this.options.quantizeEmbeddings || this.options.dtype !== 'float32' || cols % QUANT_BLOCK_SIZE !== 0 || this.options.trainable?.(full)) {
      return this.get(name, [rows, cols]);
    }
    return this.linearWeight(name, rows, cols);
  }

  /** A weight stored as float16 (half the disk and load size; computed in float32). */
  private halfParam(full: string, shape: number[]): Tensor {
    const name = `${full}#f16`;
    const existing = this.graph.params.find((p) => p.name === name);
    if (existing) return existing;
    this.expect(full, shape);
    const store = this.store;
    return this.graph.param(name, 'float16', shape, async (): Promise<HostTensor> => ({ dtype: 'float16', shape, data: f32ArrayToF16(await store.loadF32(full)) }));
  }
}
