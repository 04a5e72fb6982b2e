// Any OpenAI-compatible endpoint (slm serve, vLLM, llama.cpp server, ...) as an lm-eval model.
//
// Log-likelihoods go through /v1/completions with `echo: true`, `max_tokens: 1`, `logprobs: 1`.
// When the server has the tokenizer routes lm-eval's local-completions probes (GET
// /tokenizer_info, POST /tokenize at the server root), prompts are sent as token ids built with
// lm-eval's conventions and the continuation is `token_logprobs[ctxlen:]` of the prompt;
// otherwise prompts are text and the continuation is the tokens whose `text_offset` lies past
// the context. An endpoint that does not return prompt log-probabilities is an error, never a
// made-up number. Generation goes through /v1/completions, or /v1/chat/completions (`chat`).
import { OpenAICompatibleClient } from '../../client/openai-client.ts';
import { SlmError, throwIfAborted } from '../../errors.ts';
import { cutAtStop, encodePair, rollingWindows, splitTrailingSpace, type EvalModel, type GenerateRequest, type LoglikelihoodRequest, type RunOptions } from '../model.ts';

export interface EndpointOptions {
  /** e.g. http://127.0.0.1:8080/v1 (a full .../v1/completions URL is accepted too). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Requests in flight at once. Default 1. */
  concurrency?: number;
  /** Retries after a failed attempt (429/5xx/network). Default 3. */
  maxRetries?: number;
  timeoutMs?: number;
  /** Generation through chat completions (the prompt becomes one user message). */
  chat?: boolean;
  /** Context length (the window for rolling log-likelihoods is this − 1); default the server's /v1/models context_length, else 2048. */
  maxLength?: number;
  /** 'auto' (probe the remote tokenizer routes), 'remote', or 'none' (text prompts). */
  tokenizer?: 'auto' | 'remote' | 'none';
  seed?: number;
  fetch?: typeof fetch;
}

type Json = Record<string, unknown>;

interface RemoteTokenizer {
  encode(text: string): Promise<number[]>;
  prefixTokenId: number;
}

async function pool<T>(n: number, items: readonly T[], f: (item: T, i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      throwIfAborted(signal);
      const i = next++;
      await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

export class EndpointModel implements EvalModel {
  readonly kind = 'local-completions';
  readonly id: string;
  readonly name: string;
  readonly modelArgs: Record<string, unknown>;
  private readonly client: OpenAICompatibleClient;
  private readonly root: string;
  private tokenizer?: Promise<RemoteTokenizer | undefined>;
  private maxLength?: number;

  constructor(private readonly o: EndpointOptions) {
    const base = o.baseUrl.replace(/\/+$/, '').replace(/\/(chat\/)?completions$/, '');
    this.root = base.replace(/\/v1$/, '');
    this.client = new OpenAICompatibleClient({ baseURL: base, apiKey: o.apiKey, maxRetries: o.maxRetries ?? 3, timeoutMs: o.timeoutMs ?? 300_000, ...(o.fetch ? { fetch: o.fetch } : {}) });
    this.name = o.model;
    this.id = JSON.stringify(['endpoint', base, o.model, o.chat ? 'chat' : 'completions']);
    this.modelArgs = { base_url: base, model: o.model, num_concurrent: o.concurrency ?? 1, tokenizer_backend: o.tokenizer ?? 'auto' };
  }

  private async rootJson(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> {
    const f = this.o.fetch ?? fetch;
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const res = await f(`${this.root}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (res.ok) return (await res.json()) as Json;
        last = new Error(`HTTP ${res.status}`);
        if (res.status < 500) break;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /** lm-eval's auto probe: /tokenizer_info must have eos_token and /tokenize must return tokens. */
  private remoteTokenizer(): Promise<RemoteTokenizer | undefined> {
    return (this.tokenizer ??= (async () => {
      if (this.o.tokenizer === 'none') return undefined;
      try {
        const info = await this.rootJson('GET', '/tokenizer_info');
        if (!('eos_token' in info)) throw new Error('no eos_token in /tokenizer_info');
        const encode = async (text: string) => {
          const r = await this.rootJson('POST', '/tokenize', { prompt: text, add_special_tokens: false });
          if (!Array.isArray(r.tokens)) throw new SlmError('RUNTIME_ERROR', `${this.root}/tokenize returned no 'tokens'`);
          return r.tokens as number[];
        };
        await encode('test');
        const special = (info.bos_token ?? info.eos_token) as string | null;
        if (special == null) throw new Error('no bos_token or eos_token');
        const prefixTokenId = (await encode(special))[0]!;
        return { encode, prefixTokenId };
      } catch (e) {
        if (this.o.tokenizer === 'remote') throw new SlmError('UNSUPPORTED', `${this.root} has no usable tokenizer routes (GET /tokenizer_info, POST /tokenize): ${(e as Error).message}`);
        return undefined;
      }
    })());
  }

  private async contextLength(): Promise<number> {
    if (this.maxLength !== undefined) return this.maxLength;
    let n = this.o.maxLength;
    if (n === undefined) {
      try {
        const models = await this.client.models();
        const m = ((models.data ?? []) as Json[]).find((x) => x.id === this.o.model) ?? ((models.data ?? []) as Json[])[0];
        n = typeof m?.context_length === 'number' ? m.context_length : typeof m?.max_model_len === 'number' ? m.max_model_len : undefined;
      } catch {
        n = undefined;
      }
    }
    return (this.maxLength = n ?? 2048);
  }

  private noPromptLogprobs(detail: string): SlmError {
    return new SlmError(
      'UNSUPPORTED',
      `${this.o.baseUrl} did not return prompt log-probabilities (${detail}); log-likelihood tasks need /v1/completions with echo + logprobs (chat-only endpoints cannot score)`,
    );
  }

  /** One echo request: Σ logprob and greediness of prompt tokens [from, to). */
  private async scoreIds(ids: number[], from: number, signal?: AbortSignal): Promise<[number, boolean]> {
    const r = await this.client.completions({ model: this.o.model, prompt: [ids], max_tokens: 1, temperature: 0, logprobs: 1, echo: true, seed: this.o.seed ?? 1234 }, { signal });
    const lp = ((r.choices as Json[] | undefined)?.[0]?.logprobs ?? null) as Json | null;
    const tl = lp?.token_logprobs as Array<number | null> | undefined;
    const top = lp?.top_logprobs as Array<Record<string, number> | null> | undefined;
    if (!tl || tl.length < ids.length) throw this.noPromptLogprobs(tl ? `${tl.length} token logprobs for a ${ids.length}-token prompt` : 'no logprobs.token_logprobs');
    let sum = 0;
    let greedy = true;
    for (let i = from; i < ids.length; i++) {
      const v = tl[i];
      if (typeof v !== 'number') throw this.noPromptLogprobs(`prompt token ${i} has no logprob`);
      sum += v;
      const alts = top?.[i];
      if (!alts || Math.max(...Object.values(alts)) !== v) greedy = false;
    }
    return [sum, greedy];
  }

  /** Text mode: the prompt is context + continuation; tokens whose offset is past the context are scored. */
  private async scoreText(context: string, continuation: string, signal?: AbortSignal): Promise<[number, boolean]> {
    const prompt = context + continuation;
    const r = await this.client.completions({ model: this.o.model, prompt, max_tokens: 1, temperature: 0, logprobs: 1, echo: true, seed: this.o.seed ?? 1234 }, { signal });
    const lp = ((r.choices as Json[] | undefined)?.[0]?.logprobs ?? null) as Json | null;
    const tl = lp?.token_logprobs as Array<number | null> | undefined;
    const offs = lp?.text_offset as number[] | undefined;
    const top = lp?.top_logprobs as Array<Record<string, number> | null> | undefined;
    if (!tl || !offs) throw this.noPromptLogprobs('no logprobs.token_logprobs / text_offset');
    let sum = 0;
    let greedy = true;
    let n = 0;
    for (let i = 0; i < tl.length; i++) {
      if (offs[i]! < context.length || offs[i]! >= prompt.length) continue;
      const v = tl[i];
      if (typeof v !== 'number') continue;
      sum += v;
      n++;
      const alts = top?.[i];
      if (!alts || Math.max(...Object.values(alts)) !== v) greedy = false;
    }
    if (n === 0 && continuation.length > 0) throw this.noPromptLogprobs('no scored tokens after the context');
    return [sum, greedy];
  }

  /** lm-eval's API truncation: the prompt is the last P = maxLength − 1 tokens of context + continuation. */
  private async window(): Promise<number> {
    return (await this.contextLength()) - 1;
  }

  async loglikelihood(reqs: readonly LoglikelihoodRequest[], o: RunOptions = {}): Promise<Array<[number, boolean]>> {
    const tok = await this.remoteTokenizer();
    const P = await this.window();
    const out: Array<[number, boolean]> = new Array(reqs.length);
    await pool(
      this.o.concurrency ?? 1,
      reqs,
      async (r, i) => {
        let v: [number, boolean];
        if (tok) {
          const [ctx, cont] = await encodePair((s) => tok.encode(s), tok.prefixTokenId, r.context, r.continuation);
          const full = [...ctx, ...cont].slice(-P);
          v = await this.scoreIds(full, full.length - cont.length, o.signal);
        } else v = await this.scoreText(...splitTrailingSpace(r.context, r.continuation), o.signal);
        out[i] = v;
        o.onResult?.(i, v);
      },
      o.signal,
    );
    return out;
  }

  async loglikelihoodRolling(texts: readonly string[], o: RunOptions = {}): Promise<number[]> {
    const tok = await this.remoteTokenizer();
    const L = (await this.window()) - 1;
    const out: number[] = new Array(texts.length);
    await pool(
      this.o.concurrency ?? 1,
      texts,
      async (text, i) => {
        let sum = 0;
        if (tok) {
          for (const [ctx, pred] of rollingWindows(await tok.encode(text), tok.prefixTokenId, L)) sum += (await this.scoreIds([...ctx, ...pred], ctx.length, o.signal))[0];
        } else sum = (await this.scoreText('', text, o.signal))[0];
        out[i] = sum;
        o.onResult?.(i, sum);
      },
      o.signal,
    );
    return out;
  }

  async generateUntil(reqs: readonly GenerateRequest[], o: RunOptions = {}): Promise<string[]> {
    const out: string[] = new Array(reqs.length);
    await pool(
      this.o.concurrency ?? 1,
      reqs,
      async (r, i) => {
        const g = r.gen;
        const sample = g.do_sample && g.temperature > 0;
        const common = {
          model: this.o.model,
          max_tokens: g.max_gen_toks,
          temperature: sample ? g.temperature : 0,
          ...(sample && g.top_p !== undefined ? { top_p: g.top_p } : {}),
          stop: g.until.filter((s) => s !== '').slice(0, 16),
          seed: (this.o.seed ?? 1234) + r.repeat,
        };
        let text: string;
        if (this.o.chat) {
          const res = await this.client.chat({ ...common, messages: [{ role: 'user', content: r.context }] }, { signal: o.signal });
          text = String((((res.choices as Json[])?.[0]?.message as Json | undefined)?.content as string | null) ?? '');
        } else {
          const res = await this.client.completions({ ...common, prompt: r.context }, { signal: o.signal });
          text = String(((res.choices as Json[])?.[0]?.text as string | undefined) ?? '');
        }
        out[i] = cutAtStop(text, g.until);
        o.onResult?.(i, out[i]);
      },
      o.signal,
    );
    return out;
  }
}
