// An slmkit encoder-decoder (T5, Flan-T5) as an lm-eval model, with lm-eval's HFLM "seq2seq"
// conventions: the context is encoded WITH the tokenizer's special tokens (T5's `</s>`), the
// continuation WITHOUT them, each on its own (no joint tokenization); trailing spaces of the
// context move to the continuation. A continuation's log-likelihood is the decoder's, teacher
// forced from the start token, over the continuation's tokens; multiple choice scores each
// choice as the target sequence. The encoder runs once per distinct context, so the choices of one
// question share it. generate_until is text-to-text (greedy, or sampled with the task's
// temperature), cut at the `until` strings.
import { throwIfAborted } from '../../errors.ts';
import { generate } from '../../generate/generate.ts';
import { logSoftmax } from '../../generate/sampling/logprobs.ts';
import type { Seq2SeqLM } from '../../models/t5-load.ts';
import { t5Codec } from '../../models/t5-generate.ts';
import { cutAtStop, rollingLogLikelihoods, splitTrailingSpace, type EvalModel, type GenerateRequest, type LoglikelihoodRequest, type RunOptions } from '../model.ts';

export class Seq2SeqEvalModel implements EvalModel {
  readonly kind = 'slmkit-seq2seq';
  readonly modelArgs: Record<string, unknown>;

  constructor(
    private readonly lm: Seq2SeqLM,
    readonly id: string,
    readonly name: string,
    private readonly seed = 1234,
  ) {
    this.modelArgs = { pretrained: name, backend: 'seq2seq', max_length: lm.context };
  }

  /** [Σ log p(target | encoder input), every target token greedy] from one decoder pass. */
  private async score(encoderInput: readonly number[], target: readonly number[], signal?: AbortSignal): Promise<[number, boolean]> {
    if (target.length === 0) return [0, true];
    const enc = await this.lm.encode([encoderInput], signal);
    const session = this.lm.createSession(enc);
    try {
      const fed = [this.lm.decoderStartTokenId, ...target.slice(0, -1)].slice(0, this.lm.context);
      const [rows] = await session.forward([fed], { allLogits: true, signal });
      let sum = 0;
      let greedy = true;
      for (let i = 0; i < fed.length; i++) {
        const lp = logSoftmax(rows[i]);
        sum += lp[target[i]];
        let best = 0;
        for (let v = 1; v < lp.length; v++) if (lp[v] > lp[best]) best = v;
        greedy &&= best === target[i];
      }
      return [sum, greedy];
    } finally {
      await session.dispose();
    }
  }

  async loglikelihood(reqs: readonly LoglikelihoodRequest[], o: RunOptions = {}): Promise<Array<[number, boolean]>> {
    const out: Array<[number, boolean]> = [];
    for (let i = 0; i < reqs.length; i++) {
      throwIfAborted(o.signal);
      const [context, continuation] = splitTrailingSpace(reqs[i].context, reqs[i].continuation);
      const ctx = context === '' ? [this.lm.eosIds[0] ?? 1] : this.lm.tokenizer.encode(context, { addSpecialTokens: true });
      const cont = this.lm.tokenizer.encode(continuation, { addSpecialTokens: false });
      const r = await this.score(ctx, cont, o.signal);
      out.push(r);
      o.onResult?.(i, r);
    }
    return out;
  }

  loglikelihoodRolling(texts: readonly string[], o: RunOptions = {}): Promise<number[]> {
    const encode = (t: string) => this.lm.tokenizer.encode(t, { addSpecialTokens: false });
    return rollingLogLikelihoods(texts, encode, this.lm.eosIds[0] ?? 1, this.lm.context - 1, (c, p, signal) => this.score(c, p, signal), o);
  }

  async generateUntil(reqs: readonly GenerateRequest[], o: RunOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < reqs.length; i++) {
      throwIfAborted(o.signal);
      const { context, gen, repeat } = reqs[i];
      const enc = await this.lm.encode([this.lm.encodeText(context)], o.signal);
      const session = this.lm.createSession(enc);
      try {
        const sample = gen.do_sample && gen.temperature > 0;
        const r = await generate(session, t5Codec(this.lm), [this.lm.decoderStartTokenId], {
          temperature: sample ? gen.temperature : 0,
          maxTokens: Math.max(1, Math.min(gen.max_gen_toks, this.lm.context - 1)),
          stop: gen.until.filter((s) => s !== ''),
          seed: this.seed + repeat,
          signal: o.signal,
        }).done();
        const text = cutAtStop(r.text, gen.until);
        out.push(text);
        o.onResult?.(i, text);
      } finally {
        await session.dispose();
      }
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.lm.dispose();
  }
}

/** Loads a T5 folder or GGUF as an eval model. */
export async function openSeq2SeqModel(path: string, o: { dtype?: 'f32' | 'f16' | 'q8' | 'q4'; threads?: number; seed?: number; signal?: AbortSignal } = {}): Promise<Seq2SeqEvalModel> {
  const { loadSeq2SeqLM } = await import('../../models/t5-load.ts');
  const { resolve, basename } = await import('node:path');
  const lm = await loadSeq2SeqLM(path, { dtype: o.dtype, threads: o.threads, signal: o.signal });
  return new Seq2SeqEvalModel(lm, JSON.stringify(['seq2seq', resolve(path), lm.dtype, lm.context]), basename(resolve(path)), o.seed);
}
