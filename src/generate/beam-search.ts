// Beam search with Hugging Face's semantics (transformers BeamSearchScorer / BeamHypotheses),
// over any DecoderSession whose sequences can take over each other's caches (`reorder`).
//
// Per step: every live beam's log-softmax is added to its running score; the best 2·numBeams
// (beam, token) candidates (max(2, 1 + #EOS ids)·numBeams) in order are walked: an EOS candidate ranked among the first
// numBeams becomes a finished hypothesis scored sum_logprobs / generated_len^length_penalty
// (generated_len counts the EOS), the first numBeams non-EOS candidates are the next beams.
// A finished set holds the numBeams best hypotheses. The search is done when the set is full
// and: early_stopping true -> at once; false -> when the best live score, normalised at the
// current length, cannot beat the worst kept; 'never' -> the same bound at the longest possible
// length (exact when length_penalty > 0). At maxTokens every live beam is added (its length
// without an EOS). The result is the best hypothesis.
import { SlmError, throwIfAborted } from '../errors.ts';
import { logSoftmax } from './sampling/logprobs.ts';
import type { DecoderSession } from './types.ts';

export interface ReorderableSession extends DecoderSession {
  readonly batchSize: number;
  /** Sequence i takes over the cache of sequence from[i]. */
  reorder(from: readonly number[]): void;
}

export interface BeamSearchOptions {
  numBeams: number;
  /** Most tokens to generate (EOS included). */
  maxTokens: number;
  eosIds: readonly number[];
  /** Exponent of the length normalisation (HF default 1.0). */
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  signal?: AbortSignal;
}

export interface BeamSearchResult {
  /** Generated tokens without the start prompt; ends with the EOS when it finished with one. */
  tokens: number[];
  /** Sum of the tokens' log-probabilities. */
  sumLogprob: number;
  /** The normalised score the search ranked by. */
  score: number;
  finishReason: 'stop' | 'length';
  /** Every kept hypothesis (at most numBeams), best first: the n-best list. */
  hypotheses: BeamHypothesis[];
}

export interface BeamHypothesis {
  tokens: number[];
  sumLogprob: number;
  score: number;
  finishReason: 'stop' | 'length';
}

interface Hyp {
  tokens: number[];
  sum: number;
  score: number;
  eos: boolean;
}

/**
 * Runs beam search from `prompt` (e.g. the decoder start token). The session must hold
 * numBeams sequences, all empty.
 */
export async function beamSearch(session: ReorderableSession, prompt: readonly number[], o: BeamSearchOptions): Promise<BeamSearchResult> {
  const K = o.numBeams;
  if (!Number.isInteger(K) || K < 1) throw new SlmError('INVALID_ARGUMENT', `numBeams must be a positive integer, got ${K}`);
  if (session.batchSize !== K) throw new SlmError('INVALID_ARGUMENT', `beam search needs a session of ${K} sequences, got ${session.batchSize}`);
  if (!(o.maxTokens >= 1)) throw new SlmError('INVALID_ARGUMENT', `maxTokens must be >= 1, got ${o.maxTokens}`);
  const lp = o.lengthPenalty ?? 1;
  const early = o.earlyStopping ?? false;
  const eos = new Set(o.eosIds);
  const finished: Hyp[] = [];
  const worst = () => Math.min(...finished.map((h) => h.score));
  const addHyp = (h: Hyp) => {
    if (finished.length < K || h.score > worst()) {
      finished.push(h);
      if (finished.length > K) finished.splice(finished.indexOf(finished.reduce((a, b) => (b.score < a.score ? b : a))), 1);
    }
  };
  // Only beam 0 is live at the start (HF sets the others to -1e9 so the first step does not
  // pick the same token K times).
  let beams: { tokens: number[]; sum: number }[] = Array.from({ length: K }, (_, i) => ({ tokens: [], sum: i === 0 ? 0 : -1e9 }));
  let logits = await session.forward(Array.from({ length: K }, () => [...prompt]), { signal: o.signal });
  let done = false;
  for (let step = 1; step <= o.maxTokens && !done; step++) {
    throwIfAborted(o.signal);
    const cands: { beam: number; token: number; sum: number }[] = [];
    for (let b = 0; b < K; b++) {
      const l = logSoftmax(logits[b]![0]!);
      for (let t = 0; t < l.length; t++) if (l[t]! > -Infinity) cands.push({ beam: b, token: t, sum: beams[b]!.sum + l[t]! });
    }
    cands.sort((a, b) => b.sum - a.sum || a.beam - b.beam || a.token - b.token);
    const top = cands.slice(0, Math.max(2, 1 + eos.size) * K); // HF's n_tokens_to_keep
    const next: { beam: number; token: number; sum: number }[] = [];
    for (let rank = 0; rank < top.length && next.length < K; rank++) {
      const c = top[rank]!;
      if (eos.has(c.token)) {
        if (rank >= K) continue;
        addHyp({ tokens: [...beams[c.beam]!.tokens, c.token], sum: c.sum, score: c.sum / step ** lp, eos: true });
      } else next.push(c);
    }
    if (next.length < K) throw new SlmError('RUNTIME_ERROR', `beam search: fewer than ${K} non-EOS candidates (vocabulary too small for ${K} beams)`);
    const best = top[0]!.sum;
    if (finished.length >= K) {
      if (early === true) done = true;
      else {
        const len = early === 'never' && lp > 0 ? o.maxTokens : step;
        done = worst() >= best / len ** lp;
      }
    }
    beams = next.map((c) => ({ tokens: [...beams[c.beam]!.tokens, c.token], sum: c.sum }));
    if (done || step === o.maxTokens) break;
    session.reorder(next.map((c) => c.beam));
    logits = await session.forward(next.map((c) => [c.token]), { signal: o.signal });
  }
  if (!done) for (const b of beams) addHyp({ tokens: b.tokens, sum: b.sum, score: b.sum / b.tokens.length ** lp, eos: false });
  const bestHyp = finished.reduce((a, b) => (b.score > a.score ? b : a));
  const hypotheses = [...finished]
    .sort((a, b) => b.score - a.score)
    .map((h): BeamHypothesis => ({ tokens: h.tokens, sumLogprob: h.sum, score: h.score, finishReason: h.eos ? 'stop' : 'length' }));
  return { tokens: bestHyp.tokens, sumLogprob: bestHyp.sum, score: bestHyp.score, finishReason: bestHyp.eos ? 'stop' : 'length', hypotheses };
}
