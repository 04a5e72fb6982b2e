// What the evaluator needs from a model: lm-eval's three request kinds. Backends: a local slmkit
// decoder (backends/local.ts) and any OpenAI-compatible endpoint (backends/openai.ts).
import type { GenerationKwargs } from './task.ts';
import { throwIfAborted } from '../errors.ts';

export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface GenerateRequest {
  context: string;
  gen: GenerationKwargs;
  /** Repeat index (sampled generations with repeats differ by seed). */
  repeat: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Called as each answer is ready (the evaluator caches it so an interrupted run resumes). */
  onResult?: (index: number, value: unknown) => void;
}

export interface EvalModel {
  /** Identity for cache keys and results ("model_name"). */
  readonly id: string;
  /** Display name. */
  readonly name: string;
  /** `config.model` in results.json (e.g. "slmkit-local", "local-completions"). */
  readonly kind: string;
  readonly modelArgs: Record<string, unknown>;
  /** [logprob of the continuation, whether it is the greedy continuation] per request. */
  loglikelihood(reqs: readonly LoglikelihoodRequest[], o?: RunOptions): Promise<Array<[number, boolean]>>;
  /** Log-probability of each whole text (rolling windows over the context length). */
  loglikelihoodRolling(texts: readonly string[], o?: RunOptions): Promise<number[]>;
  generateUntil(reqs: readonly GenerateRequest[], o?: RunOptions): Promise<string[]>;
  dispose?(): Promise<void>;
}

/**
 * lm-eval's get_rolling_token_windows(tokens, prefix, maxSeqLen, 1) + make_disjoint_window:
 * (context tokens, predicted tokens) pairs that together score every token once.
 */
export function rollingWindows(tokens: readonly number[], prefixToken: number, maxSeqLen: number): Array<[number[], number[]]> {
  const out: Array<[number[], number[]]> = [];
  if (tokens.length === 0) return out;
  const first = Math.min(maxSeqLen, tokens.length);
  out.push([[prefixToken], tokens.slice(0, first)]);
  let predicted = first;
  while (predicted < tokens.length) {
    const len = Math.min(tokens.length - predicted, maxSeqLen);
    const end = predicted + len;
    const input = tokens.slice(Math.max(0, end - maxSeqLen - 1), end - 1);
    const pred = tokens.slice(end - len, end);
    out.push([input.slice(0, input.length - (pred.length - 1)), pred]);
    predicted += len;
  }
  return out;
}

/**
 * loglikelihood_rolling for a backend that can score (context ids, predicted ids): each text
 * cut into lm-eval's disjoint rolling windows, the windows' log-likelihoods summed.
 */
export async function rollingLogLikelihoods(
  texts: readonly string[],
  encode: (text: string) => number[],
  prefixToken: number,
  maxSeqLen: number,
  score: (ctx: number[], pred: number[], signal?: AbortSignal) => Promise<[number, boolean]>,
  o: RunOptions,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    let sum = 0;
    for (const [ctx, pred] of rollingWindows(encode(texts[i]!), prefixToken, maxSeqLen)) {
      throwIfAborted(o.signal);
      sum += (await score(ctx, pred, o.signal))[0];
    }
    out.push(sum);
    o.onResult?.(i, sum);
  }
  return out;
}

/** Moves the context's trailing whitespace to the continuation (lm-eval's _encode_pair). */
export function splitTrailingSpace(context: string, continuation: string): [string, string] {
  const m = /\s+$/u.exec(context);
  if (!m) return [context, continuation];
  return [context.slice(0, m.index), m[0] + continuation];
}

/** Cuts a generation at the first occurrence of any stop string (lm-eval's `until`). */
export function cutAtStop(text: string, until: readonly string[]): string {
  let end = text.length;
  for (const s of until) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

/**
 * Context + continuation token ids the way lm-eval's TemplateLM builds them: context tokens =
 * encode(context); continuation = encode(context + continuation) minus the context's token
 * count; an empty context becomes [prefix token] (unless the continuation starts with it).
 * Asynchronous so a remote tokenizer (POST /tokenize) fits too.
 */
export async function encodePair(encode: (s: string) => Promise<number[]>, prefixToken: number, context: string, continuation: string): Promise<[number[], number[]]> {
  const [ctx, cont] = splitTrailingSpace(context, continuation);
  if (ctx === '') {
    const c = await encode(cont);
    if (c[0] === prefixToken) return [c.slice(0, 1), c.slice(1)];
    return [[prefixToken], c];
  }
  const whole = await encode(ctx + cont);
  const ctxIds = await encode(ctx);
  return [ctxIds, whole.slice(ctxIds.length)];
}
