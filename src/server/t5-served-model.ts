// A T5 (encoder-decoder) behind the server's ServedModel interface, so /v1/completions and
// /v1/chat/completions serve it as text-to-text with the ordinary scheduler (batching, sampling,
// stop strings, logprobs, constraints all unchanged).
//
// The adapter session presents each sequence as a decoder whose "prompt" is the encoder input:
// the first forward on an empty sequence encodes the whole prompt (encoder + cross-attention K/V
// once) and returns the logits after the decoder start token; later forwards are decoder tokens.
// A T5's decoder state depends on the whole input, so no prefix is ever reused: cachedLength
// reports the decoder's own length, which never matches the scheduler's prompt+generated count
// (its prefix cache then starts afresh), and truncate clears the sequence. Combinations that have
// no meaning for a T5 are refused with a 400 that says why: prompt logprobs (echo), a prompt
// that arrives in several chunks, embeddings.
import { basename } from 'node:path';
import { codecFromTokenizer } from '../generate/text-codec.ts';
import type { DecoderSession } from '../generate/types.ts';
import { loadSeq2SeqLM, type Seq2SeqLM } from '../models/t5-load.ts';
import type { Seq2SeqDecoderSession } from '../models/t5-session.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import type { ModelDType } from '../models/load.ts';
import { badRequest } from './api-error.ts';
import type { ServedModel } from './served-model.ts';
import { fallbackChatPrompt } from './load-model.ts';

/** Prompt tokens a T5 input may have (the server feeds a prompt in chunks of 512). */
export const T5_MAX_INPUT = 512;

interface Slot {
  /** The one-row decoder session over this sequence's encoded input; undefined: empty. */
  dec?: Seq2SeqDecoderSession;
}

class T5AsDecoderSession implements DecoderSession {
  readonly vocabSize: number;
  readonly maxContext: number;
  private readonly slots = new Map<number, Slot>();

  constructor(private readonly lm: Seq2SeqLM) {
    this.vocabSize = lm.vocabSize;
    this.maxContext = lm.context;
  }

  cachedLength(seq: number): number {
    return this.slots.get(seq)?.dec?.cachedLength(0) ?? 0;
  }

  truncate(seq: number): void {
    this.slots.delete(seq);
  }

  async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[][]> {
    const seqs = opts.seqs ?? tokens.map((_, i) => i);
    const out: Float32Array[][] = new Array(seqs.length);
    const fresh: number[] = [];
    const decoding: number[] = [];
    seqs.forEach((s, i) => (this.slots.get(s)?.dec ? decoding : fresh).push(i));
    if (fresh.length) {
      if (opts.allLogits) throw badRequest('Prompt logprobs (echo with logprobs) are not available for an encoder-decoder model: its prompt is the encoder input, which has no next-token logits.', 'echo');
      // Every new input is encoded in one encoder run (rows padded together).
      const enc = await this.lm.encode(fresh.map((i) => tokens[i]!), opts.signal);
      await Promise.all(
        fresh.map(async (i, row) => {
          const dec = this.lm.createSession(enc, [row]);
          this.slots.set(seqs[i]!, { dec });
          out[i] = await dec.forward([[this.lm.decoderStartTokenId]], { signal: opts.signal }).then((r) => r[0]!);
        }),
      );
    }
    for (const i of decoding) {
      if (opts.allLogits) throw badRequest('Prompt logprobs are not available for an encoder-decoder model.', 'echo');
      if (tokens[i]!.length !== 1) throw badRequest(`An encoder-decoder model takes its whole prompt at once (at most ${T5_MAX_INPUT} tokens).`, 'prompt');
      out[i] = (await this.slots.get(seqs[i]!)!.dec!.forward([tokens[i]!], { signal: opts.signal }))[0]!;
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.slots.clear();
  }
}

/**
 * A chat as a T5 input: the last user message alone (with the system message before it), or the
 * fallback transcript "User: ...\nAssistant: ..." for a multi-turn chat, without the trailing
 * "Assistant:" cue a decoder needs; the tokenizer appends </s>.
 */
export function t5ChatInput(messages: readonly ChatMessage[]): string {
  const turns = messages.filter((m) => m.role !== 'system');
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
  if (turns.length === 1) return system ? `${system}\n\n${turns[0]!.content}` : turns[0]!.content;
  return fallbackChatPrompt(messages).replace(/\nAssistant:$/, '').replace(/Assistant:$/, '');
}

export interface LoadT5ServedModelOptions {
  name?: string;
  dtype?: ModelDType;
  threads?: number;
  cacheDir?: string | false;
  signal?: AbortSignal;
}

export async function loadT5ServedModel(path: string, opts: LoadT5ServedModelOptions = {}): Promise<ServedModel & { dispose(): Promise<void> }> {
  const lm = await loadSeq2SeqLM(path, { dtype: opts.dtype, threads: opts.threads, cacheDir: opts.cacheDir, signal: opts.signal, context: T5_MAX_INPUT });
  const base = basename(path.replace(/[/\\]+$/, ''));
  return {
    name: opts.name ?? (base.endsWith('.gguf') ? base.slice(0, -5) : base),
    codec: codecFromTokenizer(lm.tokenizer, lm.eosIds),
    vocabSize: lm.vocabSize,
    contextLength: T5_MAX_INPUT,
    maxSequences: 16,
    chatStop: [],
    createSession: async () => new T5AsDecoderSession(lm),
    encodeChat: (messages) => lm.encodeText(t5ChatInput(messages)),
    dispose: () => lm.dispose(),
  };
}
