// What every decoder-only architecture file provides, and the one function that turns
// an architecture into a graph with the standard inputs and outputs:
//
//   inputs : input_ids int64 [batch, seq], position_ids int64 [batch, seq],
//            past_key.{i} / past_value.{i} [batch, kvHeads, past, headDim] (with cache)
//   outputs: logits [batch, seq | 1, vocab], present_key.{i} / present_value.{i}
//
// The same `forward` serves inference (with cache) and training (no cache; the trainer
// adds the loss), so an architecture is written once.

import { Graph, type Tensor } from '../ir/graph.ts';
import { greater, less, not, or, reshape, scalar, slice, where } from '../ir/builder.ts';
import type { VarBuilder } from '../nn/var-builder.ts';

export interface KvLayout {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export interface DecoderInputs {
  inputIds: Tensor;
  positions: Tensor;
  /** One {k, v} per layer when running with a cache. */
  past?: { k: Tensor; v: Tensor }[];
  /**
   * Additive attention mask (0 = visible, a large negative = hidden), broadcastable to
   * [batch, heads, seq, past+seq]. When given it replaces the causal mask (attention runs
   * with causal=false), e.g. a prefix-LM mask from prefixLMBias. Absent: plain causal
   * attention, so inference graphs are unchanged.
   */
  attentionBias?: Tensor;
  /**
   * Input embeddings [batch, seq, hidden] used instead of looking up inputIds (LLaVA splices
   * image features into them); architectures that support it ignore inputIds then.
   */
  inputsEmbeds?: Tensor;
}

export interface DecoderOutputs {
  /** Final hidden states [batch, seq, hidden] (before the LM head). */
  hidden: Tensor;
  /** Maps hidden states to logits (applied after any slicing). */
  head: (h: Tensor) => Tensor;
  present?: { k: Tensor; v: Tensor }[];
}

/** What training and saving need from any architecture, decoder or encoder. */
export interface ModelArch<C> {
  /** Hugging Face `model_type`. */
  readonly modelType: string;
  /**
   * 'causal-lm': a decoder that generates (llama, phi); 'masked-lm': a bidirectional encoder
   * with a masked-LM head (roberta); 'seq2seq': an encoder-decoder (t5). Absent means 'causal-lm'.
   */
  readonly family?: 'causal-lm' | 'masked-lm' | 'seq2seq';
  parseConfig(json: unknown, file?: string): C;
  /** The config as Hugging Face writes it (for saving). */
  toHfConfig(c: C): Record<string, unknown>;
  vocabSize(c: C): number;
  hiddenSize(c: C): number;
  maxPositions(c: C): number;
  /** Checkpoint tensors never used by the graph (e.g. rotary inv_freq buffers). */
  ignoreTensor?(name: string): boolean;
}

export interface CausalLMArch<C> extends ModelArch<C> {
  readonly family?: 'causal-lm';
  kvLayout(c: C): KvLayout;
  /**
   * The config as run with a KV cache of `context` positions, when that changes the graph
   * (Phi-3 longrope switches to its long factors beyond the original context). Default: c.
   */
  atContext?(c: C, context: number): C;
  forward(vb: VarBuilder, c: C, io: DecoderInputs): DecoderOutputs;
}

/** Masks a hidden key: large enough that exp() underflows to 0, finite so fully masked rows stay finite. */
export const MASKED_BIAS = -1e9;

/**
 * Prefix-LM attention bias [batch, 1, seq, seq] for a decoder (UL2R / U-PaLM's non-causal
 * decoder): query i sees key j when j < prefixLength (bidirectional over the prefix block)
 * or j <= i (causal over the rest). prefixLengths: int64 [batch]. seq must be static.
 */
export function prefixLMBias(prefixLengths: Tensor, seq: number, dtype: 'float32' | 'float64'): Tensor {
  const g = prefixLengths.graph;
  const B = prefixLengths.shape[0]!;
  const idx = (shape: number[]) => g.constant({ dtype: 'int64', shape, data: BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)) });
  const rows = idx([seq, 1]);
  const cols = idx([1, seq]);
  const inPrefix = less(cols, reshape(prefixLengths, [B, 1, 1])); // [B, 1, seq]
  const notFuture = not(greater(cols, rows)); // [seq, seq]
  const visible = or(inPrefix, notFuture); // [B, seq, seq]
  return reshape(where(visible, scalar(g, 0, dtype), scalar(g, MASKED_BIAS, dtype)), [B, 1, seq, seq]);
}

export interface DecoderGraphOptions {
  /** Add past/present KV inputs and outputs. */
  cache: boolean;
  /** Only compute logits of the last position (decode and prefill for sampling). */
  lastLogitsOnly: boolean;
  /** Also output the final hidden states (embeddings). */
  hiddenOutput?: boolean;
}

export function buildDecoderGraph<C>(arch: CausalLMArch<C>, c: C, vb: VarBuilder, o: DecoderGraphOptions): Graph {
  const g = vb.graph;
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  let past: { k: Tensor; v: Tensor }[] | undefined;
  if (o.cache) {
    const kv = arch.kvLayout(c);
    const dtype = vb.options.dtype;
    past = [];
    for (let i = 0; i < kv.layers; i++) {
      past.push({
        k: g.input(`past_key.${i}`, dtype, ['batch', kv.kvHeads, 'past', kv.headDim]),
        v: g.input(`past_value.${i}`, dtype, ['batch', kv.kvHeads, 'past', kv.headDim]),
      });
    }
  }
  const r = arch.forward(vb, c, { inputIds, positions, past });
  const last = o.lastLogitsOnly ? slice(r.hidden, 1, -1, Infinity) : r.hidden;
  const outputs: Record<string, Tensor> = { logits: r.head(last) };
  if (o.hiddenOutput) outputs.hidden = r.hidden;
  r.present?.forEach((p, i) => {
    outputs[`present_key.${i}`] = p.k;
    outputs[`present_value.${i}`] = p.v;
  });
  g.setOutputs(outputs);
  return g;
}

export { Graph };
