// Text-to-text with a Seq2SeqLM: encode the input once, then decode from the decoder start
// token with the ordinary generation loop (greedy, sampling, stop strings, streaming) or with
// beam search. Beam settings default to generation_config.json's num_beams, length_penalty and
// early_stopping, as transformers' generate() does.
import { generate, type GenerateOptions } from '../generate/generate.ts';
import { beamSearch } from '../generate/beam-search.ts';
import { codecFromTokenizer, type TextCodec } from '../generate/text-codec.ts';
import type { GenerationStats } from '../generate/types.ts';
import { SlmError } from '../errors.ts';
import type { Seq2SeqLM } from './t5-load.ts';

export interface Text2TextOptions extends Omit<GenerateOptions, 'seq' | 'cache' | 'promptLogprobs' | 'prefillChunkSize' | 'onPrefillProgress'> {
  /** Beam search with this many beams (default generation_config's num_beams, else 1 = no beams). */
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
}

export interface Text2TextResult {
  text: string;
  /** The decoder's generated ids, without the start token (ending with EOS when it stopped there). */
  tokens: number[];
  finishReason: 'stop' | 'length' | 'abort';
  /** Encoder input tokens. */
  inputTokens: number;
  stats: GenerationStats;
}

export function t5Codec(lm: Seq2SeqLM): TextCodec {
  return codecFromTokenizer(lm.tokenizer, lm.eosIds);
}

/** Beam settings: the options, else generation_config.json, else HF's defaults. */
export function beamSettings(lm: Seq2SeqLM, o: Pick<Text2TextOptions, 'numBeams' | 'lengthPenalty' | 'earlyStopping'>): { numBeams: number; lengthPenalty: number; earlyStopping: boolean | 'never' } {
  const g = lm.generationConfig;
  const numBeams = o.numBeams ?? (typeof g.num_beams === 'number' ? g.num_beams : 1);
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new SlmError('INVALID_ARGUMENT', `num_beams must be a positive integer, got ${numBeams}`);
  const es = g.early_stopping;
  return {
    numBeams,
    lengthPenalty: o.lengthPenalty ?? (typeof g.length_penalty === 'number' ? g.length_penalty : 1),
    earlyStopping: o.earlyStopping ?? (es === true || es === false || es === 'never' ? es : false),
  };
}

/** Streams the output of one input text (no beams: beams finish all at once; use text2text). */
export async function streamText2Text(lm: Seq2SeqLM, input: string, o: Text2TextOptions = {}): Promise<{ generation: ReturnType<typeof generate>; inputTokens: number; dispose: () => Promise<void> }> {
  const ids = lm.encodeText(input);
  const session = lm.createSession(await lm.encode([ids], o.signal));
  const generation = generate(session, t5Codec(lm), [lm.decoderStartTokenId], { ...o, maxTokens: Math.min(o.maxTokens ?? 256, lm.context - 1) });
  return { generation, inputTokens: ids.length, dispose: () => session.dispose() };
}

/** The whole output of one input text, greedy/sampled or by beam search. */
export async function text2text(lm: Seq2SeqLM, input: string, o: Text2TextOptions = {}): Promise<Text2TextResult> {
  const beams = beamSettings(lm, o);
  const maxTokens = Math.min(o.maxTokens ?? 256, lm.context - 1);
  if (beams.numBeams === 1) {
    const s = await streamText2Text(lm, input, { ...o, maxTokens });
    try {
      const r = await s.generation.done();
      return { text: r.text, tokens: r.tokens, finishReason: r.finishReason, inputTokens: s.inputTokens, stats: { ...r.stats, promptTokens: s.inputTokens } };
    } finally {
      await s.dispose();
    }
  }
  if (o.stop?.length) throw new SlmError('INVALID_ARGUMENT', 'stop strings are not supported with beam search');
  const t0 = performance.now();
  const ids = lm.encodeText(input);
  const enc = await lm.encode([ids], o.signal);
  const t1 = performance.now();
  const session = lm.createSession(enc, new Array(beams.numBeams).fill(0));
  try {
    const r = await beamSearch(session, [lm.decoderStartTokenId], { ...beams, maxTokens, eosIds: lm.eosIds, signal: o.signal });
    const t2 = performance.now();
    const codec = t5Codec(lm);
    const shown = r.finishReason === 'stop' ? r.tokens.slice(0, -1) : r.tokens;
    return {
      text: codec.decode(shown, { skipSpecialTokens: true }),
      tokens: r.tokens,
      finishReason: r.finishReason,
      inputTokens: ids.length,
      stats: {
        promptTokens: ids.length,
        generatedTokens: r.tokens.length,
        promptTokensPerSecond: ids.length / ((t1 - t0) / 1000),
        generationTokensPerSecond: r.tokens.length / ((t2 - t1) / 1000),
        timeToFirstTokenMs: t2 - t0,
        peakRssMb: process.memoryUsage().rss / 2 ** 20,
      },
    };
  } finally {
    await session.dispose();
  }
}
