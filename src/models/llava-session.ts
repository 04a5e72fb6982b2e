// LLaVA as a DecoderSession, so images go through the same generation machinery as text
// (sampling, stop strings, logprobs, the server's scheduler and prefix reuse, `slm chat`).
//
// Prompt ids may hold image placeholder ids (LlavaModel.imageIds: ids ≥ the text vocabulary,
// one per image position, unique to the image's content); the session turns every fed id into
// its input embedding (an embed_tokens row, or the image feature row it stands for) and runs
// the Phi decoder on inputs_embeds. KV caches are kept per sequence in concat mode (the graph
// returns the whole present cache); sequences are fed one after another.
//
// The chat prompt (conv phi-2_v0) is built from segments, text and images, and each text
// chunk is tokenized apart as LLaVA's tokenizer_image_token does; a literal "<image>" typed
// in a message stays text (only real image parts become placeholders).

import type { HostTensor } from '../ir/dtype.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import { PHI2_V0_SYSTEM, type LlavaModel } from './llava-load.ts';
import { truncateKvTensor } from './decoder-session.ts';

interface SeqCache {
  length: number;
  /** key, value per layer: [1, kvHeads, length, headDim]. */
  kv: HostTensor[];
}

export class LlavaDecoderSession implements DecoderSession {
  readonly vocabSize: number;
  /** Image placeholder ids run past the text vocabulary (validatePrompt accepts them). */
  readonly inputVocabSize = Number.MAX_SAFE_INTEGER;
  private readonly seqs = new Map<number, SeqCache>();

  constructor(
    private readonly model: LlavaModel,
    readonly maxContext: number = model.config.text.maxPositions,
  ) {
    this.vocabSize = model.config.text.vocabSize;
    if (maxContext > model.config.text.maxPositions) throw new SlmError('INVALID_ARGUMENT', `context ${maxContext} is more than the model's ${model.config.text.maxPositions} positions`);
  }

  cachedLength(seq: number): number {
    return this.seqs.get(seq)?.length ?? 0;
  }

  private cache(seq: number): SeqCache {
    let c = this.seqs.get(seq);
    if (!c) {
      const { layers, kvHeads, headDim } = this.model.config.text;
      const empty = (): HostTensor => ({ dtype: this.model.dtype, shape: [1, kvHeads, 0, headDim], data: this.model.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0) }) as HostTensor;
      c = { length: 0, kv: Array.from({ length: 2 * layers }, empty) };
      this.seqs.set(seq, c);
    }
    return c;
  }

  truncate(seq: number, length: number): void {
    const c = this.seqs.get(seq);
    if (!c || length >= c.length) return;
    if (length <= 0) {
      this.seqs.delete(seq);
      return;
    }
    c.kv = c.kv.map((t) => truncateKvTensor(t, length));
    c.length = length;
  }

  async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[][]> {
    const out: Float32Array[][] = [];
    for (let i = 0; i < tokens.length; i++) {
      throwIfAborted(opts.signal);
      out.push(await this.forwardOne(opts.seqs?.[i] ?? i, tokens[i]!, !!opts.allLogits, opts.signal));
    }
    return out;
  }

  private async forwardOne(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', 'forward: no tokens to feed');
    for (const t of ids) if (!Number.isSafeInteger(t) || t < 0) throw new SlmError('INVALID_ARGUMENT', `token id ${t} is not a token or image placeholder id`);
    const c = this.cache(seq);
    if (c.length + ids.length > this.maxContext) throw new SlmError('INVALID_ARGUMENT', `context overflow: ${c.length} cached + ${ids.length} new positions > context ${this.maxContext}`);
    const embeds = await this.model.embedIds(ids, signal);
    const r = await this.model.decodeEmbeds(embeds, c.kv, c.length, { allLogits, signal });
    c.kv = r.present;
    c.length += ids.length;
    const V = this.vocabSize;
    const data = r.logits.data as Float32Array | Float64Array;
    const rows = r.logits.shape[1]!;
    return Array.from({ length: rows }, (_, i) => Float32Array.from(data.subarray(i * V, (i + 1) * V)));
  }

  async dispose(): Promise<void> {
    this.seqs.clear();
  }
}

/** A piece of a multimodal message: text, or the index of an image in the request's list. */
export type PromptSegment = string | { image: number };

export interface SegmentMessage {
  role: string;
  content: string | readonly PromptSegment[];
}

/**
 * conv phi-2_v0 over chat messages: "{system} USER: {u} ASSISTANT: {a}<|endoftext|>USER: …
 * ASSISTANT:". system/developer messages replace the default system line; tool results are
 * user turns. A user turn's images go first, each as "<image>\n", then its text (LLaVA's
 * training layout, whatever order the parts came in).
 */
export function phi2V0Segments(messages: readonly SegmentMessage[]): PromptSegment[] {
  const parts = (c: SegmentMessage['content']): readonly PromptSegment[] => (typeof c === 'string' ? [c] : c);
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer');
  const systemText = system.length ? system.map((m) => parts(m.content).filter((p) => typeof p === 'string').join('')).join('\n') : PHI2_V0_SYSTEM;
  if (system.some((m) => parts(m.content).some((p) => typeof p !== 'string'))) throw new SlmError('INVALID_ARGUMENT', 'images go in user messages, not in the system message');
  const out: PromptSegment[] = [`${systemText} `];
  for (const m of messages) {
    if (m.role === 'system' || m.role === 'developer') continue;
    const ps = parts(m.content);
    const text = ps.filter((p): p is string => typeof p === 'string').join('');
    const images = ps.filter((p): p is { image: number } => typeof p !== 'string');
    if (m.role === 'assistant') {
      if (images.length) throw new SlmError('INVALID_ARGUMENT', 'images go in user messages, not in assistant messages');
      out.push(`ASSISTANT: ${text}<|endoftext|>`);
      continue;
    }
    out.push('USER: ');
    for (const im of images) out.push(im, '\n');
    out.push(`${text} `);
  }
  out.push('ASSISTANT:');
  return out;
}

/**
 * Token ids of segments: consecutive text merged and tokenized as one chunk (special tokens
 * on the first chunk only, as tokenizer_image_token), each image replaced by its ids.
 */
export function tokenizeSegments(tok: Pick<Tokenizer, 'encode'>, segments: readonly PromptSegment[], imageIds: readonly (readonly number[])[]): number[] {
  const ids: number[] = [];
  let text = '';
  let first = true;
  const flush = () => {
    if (text === '' && !first) return;
    ids.push(...tok.encode(text, { addSpecialTokens: first }));
    first = false;
    text = '';
  };
  for (const s of segments) {
    if (typeof s === 'string') {
      text += s;
      continue;
    }
    flush();
    const im = imageIds[s.image];
    if (!im) throw new SlmError('INVALID_ARGUMENT', `image ${s.image} of the prompt was not given`);
    ids.push(...im);
  }
  flush();
  return ids;
}
