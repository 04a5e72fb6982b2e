// Where speculative decoding's draft tokens come from. A draft proposes up to k tokens after the
// current text and says with which probability it proposed each (q), since the acceptance rule
// min(1, p/q) needs it; deterministic drafts propose with q = 1.
import type { DecoderSession } from '../../generate/types.ts';
import { createSampler, type SamplerConfig } from '../../generate/sampling/sampler.ts';
import { Rng } from '../../util/rng.ts';

export interface DraftProposal {
  tokens: number[];
  /**
   * q_i, the draft's distribution at each proposed position (probabilities over the vocabulary),
   * or undefined for a deterministic proposal (q is one-hot at the proposed token).
   */
  q?: Float64Array[];
}

export interface DraftSource {
  /** Proposes at most `k` tokens to follow `context` (prompt + accepted tokens). */
  propose(context: readonly number[], k: number, signal?: AbortSignal): Promise<DraftProposal>;
  /** The target accepted `context` (prompt + all accepted tokens): resynchronise any cache. */
  accepted(context: readonly number[]): void;
  dispose(): Promise<void>;
}

/** Drafts with a small model: its own KV cache, sampled with the request's sampler settings. */
export class ModelDraft implements DraftSource {
  private cached: number[] = [];
  private readonly sampler;

  constructor(
    private readonly session: DecoderSession,
    config: SamplerConfig,
    rng: Rng,
    private readonly seq = 0,
  ) {
    // The draft's own random stream: its choices are corrected by the acceptance rule, so they
    // need not be the target's.
    this.sampler = createSampler(config, new Rng(rng.nextU32()));
  }

  async propose(context: readonly number[], k: number, signal?: AbortSignal): Promise<DraftProposal> {
    let keep = 0;
    while (keep < this.cached.length && keep < context.length - 1 && this.cached[keep] === context[keep]) keep++;
    this.session.truncate(this.seq, keep);
    this.cached = context.slice(0, keep);
    let feed = context.slice(keep);
    const tokens: number[] = [];
    const q: Float64Array[] = [];
    const room = this.session.maxContext - context.length;
    for (let i = 0; i < Math.min(k, room); i++) {
      const [[logits]] = await this.session.forward([feed], { seqs: [this.seq], signal });
      this.cached.push(...feed);
      const ctx = { promptTokens: context, generatedTokens: tokens };
      const p = this.sampler.probabilities(logits, ctx);
      const t = this.sampler.config.temperature === 0 ? argmaxOf(p) : this.sampler.sample(logits, ctx);
      tokens.push(t);
      q.push(p);
      feed = [t];
    }
    return { tokens, q };
  }

  accepted(_context: readonly number[]): void {
    // The next propose() truncates to the common prefix; nothing to do eagerly.
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

function argmaxOf(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/**
 * Prompt-lookup decoding (Saxena, 2023): no draft model; the last n tokens are looked up
 * earlier in the prompt and the text so far, and what followed the most recent match is
 * proposed. It pays off where the output copies from the input (editing, extraction, code).
 */
export class PromptLookupDraft implements DraftSource {
  constructor(
    private readonly maxNgram = 3,
    private readonly minNgram = 1,
  ) {}

  async propose(context: readonly number[], k: number): Promise<DraftProposal> {
    for (let n = Math.min(this.maxNgram, context.length - 1); n >= this.minNgram; n--) {
      const tail = context.slice(context.length - n);
      for (let start = context.length - n - 1; start >= 0; start--) {
        let match = true;
        for (let j = 0; j < n && match; j++) match = context[start + j] === tail[j];
        if (!match) continue;
        const tokens = context.slice(start + n, Math.min(start + n + k, context.length));
        if (tokens.length) return { tokens };
      }
    }
    return { tokens: [] };
  }

  accepted(): void {}

  async dispose(): Promise<void> {}
}
