// EFT / logit arithmetic (Mitchell et al., "An Emulator for Fine-Tuning LLMs using Small LMs"):
// one DecoderSession whose logits are  base + Σ_i w_i · (ft_i − ref_i)  at every position, each
// model keeping its own KV cache. Raw logits are combined, as the reference implementation
// (emulated-disalignment, EFTPosthocGenerationMixin) does: per-model constant shifts cancel in
// the softmax, so this equals combining log-probabilities. Because it is a DecoderSession,
// every sampler, the server, logprobs (of the combined distribution) and speculative decoding
// work on it unchanged. Up-scaling is w = 1 with a large base and small ft/ref; down-scaling
// swaps the sizes; test-time interpolation is several (ft_i, ref_i) pairs with weights λ, 1 − λ.
import { SlmError } from '../../errors.ts';
import type { DecoderSession } from '../../generate/types.ts';

export interface EftTerm {
  /** The fine-tuned model of the pair. */
  ft: DecoderSession;
  /** Its base (the model it was fine-tuned from). */
  ref: DecoderSession;
  /** Weight of the pair's behaviour delta (1 = EFT up-scaling). */
  weight: number;
}

export class CombinedSession implements DecoderSession {
  readonly vocabSize: number;
  readonly maxContext: number;
  private readonly all: DecoderSession[];

  constructor(
    readonly base: DecoderSession,
    readonly terms: readonly EftTerm[],
    /**
     * Run the models' forward calls at once (onnxruntime runs each on its own threads) instead
     * of one after another. Off by default: with every session already using the cores the
     * calls only compete; bench/companion.ts measures both.
     */
    private readonly concurrent = false,
  ) {
    if (terms.length === 0) throw new SlmError('INVALID_ARGUMENT', 'EFT needs at least one (fine-tuned, reference) pair');
    this.all = [base, ...terms.flatMap((t) => [t.ft, t.ref])];
    for (const [i, s] of this.all.entries()) {
      if (s.vocabSize !== base.vocabSize) {
        throw new SlmError('INVALID_ARGUMENT', `EFT models must share one vocabulary: model ${i} has ${s.vocabSize} logits, the base ${base.vocabSize}`);
      }
    }
    for (const t of terms) if (!Number.isFinite(t.weight)) throw new SlmError('INVALID_ARGUMENT', `EFT weight must be finite, got ${t.weight}`);
    this.vocabSize = base.vocabSize;
    this.maxContext = Math.min(...this.all.map((s) => s.maxContext));
  }

  cachedLength(seq: number): number {
    return this.base.cachedLength(seq);
  }

  async forward(tokens: number[][], opts?: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal }): Promise<Float32Array[][]> {
    let outs: Float32Array[][][];
    if (this.concurrent) outs = await Promise.all(this.all.map((s) => s.forward(tokens, opts)));
    else {
      outs = [];
      for (const s of this.all) outs.push(await s.forward(tokens, opts));
    }
    const [baseOut] = outs;
    return baseOut.map((rows, r) =>
      rows.map((baseRow, p) => {
        const out = Float32Array.from(baseRow);
        this.terms.forEach((t, i) => {
          const ft = outs[1 + 2 * i][r][p];
          const ref = outs[2 + 2 * i][r][p];
          for (let v = 0; v < out.length; v++) out[v] += t.weight * (ft[v] - ref[v]);
        });
        return out;
      }),
    );
  }

  truncate(seq: number, length: number): void {
    for (const s of this.all) s.truncate(seq, length);
  }

  /** Disposes every model's session. */
  async dispose(): Promise<void> {
    for (const s of this.all) await s.dispose();
  }
}
