// An slmkit decoder as an lm-eval model. Log-likelihoods follow lm-eval's conventions
// (encodePair: no special tokens, empty context = [BOS or EOS], left truncation to the window)
// and reuse the KV cache: requests that share a context (the choices of one multiple-choice
// question) feed the context once and then only each continuation; the cache is cut back to the
// shared prefix between requests. Generation is greedy (or sampled with the task's temperature)
// through src/generate, cut at the task's `until` strings.
import { SlmError, throwIfAborted } from '../../errors.ts';
import { generateText } from '../../generate/generate.ts';
import { logSoftmax } from '../../generate/sampling/logprobs.ts';
import type { TextCodec } from '../../generate/text-codec.ts';
import type { DecoderSession } from '../../generate/types.ts';
import { cutAtStop, encodePair, rollingLogLikelihoods, type EvalModel, type GenerateRequest, type LoglikelihoodRequest, type RunOptions } from '../model.ts';

export interface LocalModelParts {
  name: string;
  /** Identity for the request cache (path, dtype, ...). */
  id: string;
  session: DecoderSession;
  codec: TextCodec;
  /** BOS if the model has one, else EOS: the context of an empty-context request. */
  prefixTokenId: number;
  /** Context length; context + continuation is cut to its last maxLength − 1 tokens (lm-eval's API truncation, so a served run matches). Default the session's. */
  maxLength?: number;
  seed?: number;
  modelArgs?: Record<string, unknown>;
  dispose?: () => Promise<void>;
}

export class LocalDecoderModel implements EvalModel {
  readonly kind = 'slmkit-local';
  readonly id: string;
  readonly name: string;
  readonly modelArgs: Record<string, unknown>;
  /** Most tokens of context + continuation scored at once. */
  private readonly P: number;
  /** Token ids sequence 0 of the session holds. */
  private cached: number[] = [];

  constructor(private readonly p: LocalModelParts) {
    this.id = p.id;
    this.name = p.name;
    const maxLength = Math.min(p.maxLength ?? p.session.maxContext, p.session.maxContext);
    this.P = maxLength - 1;
    this.modelArgs = { pretrained: p.name, max_length: maxLength, ...p.modelArgs };
  }

  private encode(text: string): number[] {
    return this.p.codec.encode(text, { addSpecialTokens: false });
  }

  /** Scores `cont` after `ctx` (token ids): [Σ logprob, every token greedy]. */
  async scoreTokens(ctx: readonly number[], cont: readonly number[], signal?: AbortSignal): Promise<[number, boolean]> {
    if (cont.length === 0) return [0, true];
    const full = [...ctx, ...cont].slice(-this.P);
    const input = full.slice(0, -1);
    const ctxLen = full.length - cont.length; // context tokens left after truncation
    if (ctxLen < 1) throw new SlmError('INVALID_ARGUMENT', `a continuation of ${cont.length} tokens does not fit the ${this.P + 1}-token window`);
    const session = this.p.session;
    // Reuse the cached prefix, but feed at least the context's last token (its logits score cont[0]).
    let keep = 0;
    while (keep < this.cached.length && keep < input.length && this.cached[keep] === input[keep]) keep++;
    keep = Math.min(keep, Math.max(0, ctxLen - 1));
    if (session.cachedLength(0) !== this.cached.length) keep = 0;
    session.truncate(0, keep);
    this.cached = input.slice(0, keep);
    const feed = input.slice(keep);
    let rows: Float32Array[];
    try {
      rows = (await session.forward([feed], { seqs: [0], allLogits: true, signal }))[0]!;
    } catch (e) {
      session.truncate(0, 0);
      this.cached = [];
      throw e;
    }
    this.cached = input;
    let sum = 0;
    let greedy = true;
    for (let j = 0; j < cont.length; j++) {
      const row = rows[ctxLen - 1 + j - keep]!;
      const lp = logSoftmax(row);
      const tok = cont[j]!;
      sum += lp[tok]!;
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
      if (best !== tok) greedy = false;
    }
    return [sum, greedy];
  }

  async loglikelihood(reqs: readonly LoglikelihoodRequest[], o: RunOptions = {}): Promise<Array<[number, boolean]>> {
    const out: Array<[number, boolean]> = [];
    for (let i = 0; i < reqs.length; i++) {
      throwIfAborted(o.signal);
      const [ctx, cont] = await encodePair(async (s) => this.encode(s), this.p.prefixTokenId, reqs[i]!.context, reqs[i]!.continuation);
      const r = await this.scoreTokens(ctx, cont, o.signal);
      out.push(r);
      o.onResult?.(i, r);
    }
    return out;
  }

  loglikelihoodRolling(texts: readonly string[], o: RunOptions = {}): Promise<number[]> {
    return rollingLogLikelihoods(texts, (t) => this.encode(t), this.p.prefixTokenId, this.P - 1, (c, p, signal) => this.scoreTokens(c, p, signal), o);
  }

  async generateUntil(reqs: readonly GenerateRequest[], o: RunOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < reqs.length; i++) {
      throwIfAborted(o.signal);
      const { context, gen, repeat } = reqs[i]!;
      const maxTokens = gen.max_gen_toks;
      // lm-eval keeps the last (max_length − max_gen_toks) context tokens.
      let ids = this.encode(context).slice(-Math.max(1, this.P + 1 - maxTokens));
      if (ids.length === 0) ids = [this.p.prefixTokenId];
      const room = this.p.session.maxContext - ids.length;
      this.p.session.truncate(0, 0);
      this.cached = [];
      const sample = gen.do_sample && gen.temperature > 0;
      const r = await generateText(this.p.session, this.p.codec, ids, {
        temperature: sample ? gen.temperature : 0,
        topP: sample ? (gen.top_p as number | undefined) : undefined,
        maxTokens: Math.max(1, Math.min(maxTokens, room)),
        stop: gen.until.filter((s) => s !== ''),
        seed: (this.p.seed ?? 1234) + repeat,
        signal: o.signal,
      });
      this.p.session.truncate(0, 0);
      const text = cutAtStop(r.text, gen.until);
      out.push(text);
      o.onResult?.(i, text);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.p.session.dispose();
    await this.p.dispose?.();
  }
}

/** Loads a model folder or GGUF file as an eval model. */
export async function openLocalModel(path: string, o: { dtype?: 'f32' | 'f16' | 'q8' | 'q4'; ctx?: number; threads?: number; seed?: number; signal?: AbortSignal } = {}): Promise<LocalDecoderModel> {
  const { loadCausalLM } = await import('../../models/load.ts');
  const { codecFromTokenizer } = await import('../../generate/text-codec.ts');
  const { resolve, basename } = await import('node:path');
  const lm = await loadCausalLM(path, { dtype: o.dtype, context: o.ctx, threads: o.threads, signal: o.signal });
  const tok = lm.tokenizer;
  const prefix = tok.bosId ?? tok.eosId ?? lm.eosIds[0];
  if (prefix === undefined) throw new (await import('../../errors.ts')).SlmError('UNSUPPORTED', `${path}: the tokenizer has neither BOS nor EOS (needed as the context of empty-context requests)`);
  return new LocalDecoderModel({
    name: basename(resolve(path)),
    id: JSON.stringify(['local', resolve(path), lm.dtype, lm.context]),
    session: lm.createSession(),
    codec: codecFromTokenizer(tok, lm.eosIds),
    prefixTokenId: prefix,
    seed: o.seed,
    modelArgs: { pretrained: resolve(path), dtype: lm.dtype },
    dispose: () => lm.dispose(),
  });
}
