// Request text is bounded before it is tokenized, and long tokenization leaves the event loop.
//
// A token covers at most `maxTokenChars` characters (the longest vocabulary piece), so a text of
// more than context × maxTokenChars characters cannot fit the context whatever it says: it gets
// the context-length 400 without being tokenized (a 4 MB chat prompt took 2.3 s to tokenize
// before its 400). Texts past `inlineTokenizeChars`, and every chat-template render, run on the
// model's tokenizer worker when it has one (ServedModel.encodeAsync / encodeChatAsync), so one
// request cannot hold /health and everybody else's tokens (3.7 MB of random non-ASCII text
// blocked the server for 11.7 s).
import { LimitError, SlmError } from '../errors.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import { ApiError, badRequest } from './api-error.ts';
import type { ServerContext } from './context.ts';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.ts';

const limitsOf = (sc: ServerContext): ServerLimits => sc.limits ?? DEFAULT_SERVER_LIMITS;

/** The most characters a prompt can have and still fit the context. */
export function maxPromptChars(sc: ServerContext): number {
  return sc.ctx * (sc.model.maxTokenChars ?? limitsOf(sc).fallbackMaxTokenChars);
}

function tooLong(sc: ServerContext, chars: number, param: string): ApiError {
  return badRequest(
    `The ${param} has ${chars} characters: more than ${maxPromptChars(sc)} (the context length ${sc.ctx} × at most ${sc.model.maxTokenChars ?? limitsOf(sc).fallbackMaxTokenChars} characters per token) cannot fit the context.`,
    param,
    'context_length_exceeded',
  );
}

/** Template and tokenizer failures (budget, raise_exception, worker timeout) as 400s; the rest as they are. */
export function tokenizationError(e: unknown, param: string): unknown {
  if (e instanceof ApiError) return e;
  if (e instanceof LimitError) return badRequest(e.message, param, 'limit_exceeded');
  if (e instanceof SlmError && (e.code === 'INVALID_ARGUMENT' || e.code === 'FORMAT_ERROR')) return badRequest(e.message, param, 'invalid_prompt');
  return e;
}

export interface EncodeTextOptions {
  addSpecialTokens: boolean;
  /** The request field the text came from (named in errors). */
  param: string;
  signal?: AbortSignal;
  /** Characters allowed; default: what the context can hold. */
  maxChars?: number;
  /** Send to the worker even when short (one of many texts whose total is long). */
  offload?: boolean;
}

/** Tokenizes request text: length-checked first, off the event loop when long. */
export async function encodeText(sc: ServerContext, text: string, o: EncodeTextOptions): Promise<number[]> {
  const max = o.maxChars ?? maxPromptChars(sc);
  if (text.length > max) {
    if (o.maxChars === undefined) throw tooLong(sc, text.length, o.param);
    throw badRequest(`The ${o.param} has ${text.length} characters; at most ${max} are accepted.`, o.param, 'limit_exceeded');
  }
  try {
    if ((o.offload || text.length > limitsOf(sc).inlineTokenizeChars) && sc.model.encodeAsync) {
      return await sc.model.encodeAsync(text, { addSpecialTokens: o.addSpecialTokens }, o.signal);
    }
    return sc.model.codec.encode(text, { addSpecialTokens: o.addSpecialTokens });
  } catch (e) {
    throw tokenizationError(e, o.param);
  }
}

/** Several texts (a prompt or input list): off the event loop when together they are long. */
export function encodeTexts(sc: ServerContext, texts: readonly string[], o: EncodeTextOptions): Promise<number[][]> {
  const total = texts.reduce((a, t) => a + t.length, 0);
  const offload = total > limitsOf(sc).inlineTokenizeChars;
  return Promise.all(texts.map((t) => encodeText(sc, t, { ...o, offload })));
}

/** Characters of a /tokenize request are capped by limits.maxTokenizeChars, not by the context. */
export function encodeForTokenizeRoute(sc: ServerContext, text: string, addSpecialTokens: boolean, signal?: AbortSignal): Promise<number[]> {
  return encodeText(sc, text, { addSpecialTokens, param: 'content', signal, maxChars: limitsOf(sc).maxTokenizeChars });
}

/** Chat prompt ids: message text length-checked, the template rendered off the event loop when possible. */
export async function encodeChatBounded(sc: ServerContext, messages: readonly ChatMessage[], signal?: AbortSignal, opts?: { tools?: readonly unknown[] }): Promise<number[]> {
  const chars = messages.reduce((a, m) => a + m.content.length, 0);
  if (chars > maxPromptChars(sc)) throw tooLong(sc, chars, 'messages');
  try {
    if (sc.model.encodeChatAsync) return await sc.model.encodeChatAsync(messages, signal, opts);
    return await sc.model.encodeChat!(messages, opts);
  } catch (e) {
    throw tokenizationError(e, 'messages');
  }
}

/** /v1/embeddings: inputs per request and tokens over all inputs (400 beyond them). */
export function checkEmbeddingInputCount(sc: ServerContext, count: number): void {
  const { maxEmbeddingInputs } = limitsOf(sc);
  if (count > maxEmbeddingInputs) throw badRequest(`At most ${maxEmbeddingInputs} embedding inputs per request; got ${count}.`, 'input', 'too_many_inputs');
}

export function checkEmbeddingTokens(sc: ServerContext, inputs: readonly (readonly number[])[]): void {
  const { maxEmbeddingTokens } = limitsOf(sc);
  const total = inputs.reduce((a, ids) => a + ids.length, 0);
  if (total > maxEmbeddingTokens) throw badRequest(`The embedding inputs hold ${total} tokens; at most ${maxEmbeddingTokens} per request.`, 'input', 'too_many_tokens');
}
