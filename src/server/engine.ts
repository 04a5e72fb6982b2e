// Turns validated request parameters into generation jobs (one sequence each) for the batch
// scheduler (scheduler.ts): the part of the server that knows about sampling parameters, apart
// from HTTP and JSON shapes.
import type { SequenceOptions } from '../generate/sequence-run.ts';
import type { GenerationStep } from '../generate/types.ts';
import { compileSchemaCached, UnsupportedSchemaError, type SchemaNode } from '../generate/constrained/json-schema.ts';
import { deriveSeed } from '../util/rng.ts';
import { LimitError } from '../errors.ts';
import { badRequest } from './api-error.ts';

export interface SamplingParams {
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  seed?: number | null;
  stop?: string | string[] | null;
  response_format?: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown> } };
}

export interface Job {
  promptIds: number[];
  opts: SequenceOptions;
}

/** Compiles response_format into a schema (400 naming unsupported keywords); undefined = free text. */
export function schemaFor(format: SamplingParams['response_format']): SchemaNode | undefined {
  if (!format || format.type === 'text') return undefined;
  try {
    // Cached by schema text: requests with the same schema then share token masks.
    if (format.type === 'json_object') return compileSchemaCached({ type: 'object' });
    return compileSchemaCached(format.json_schema.schema ?? {});
  } catch (e) {
    if (e instanceof UnsupportedSchemaError) throw badRequest(`response_format.json_schema: ${e.message}`, 'response_format', 'unsupported_schema');
    if (e instanceof LimitError) throw badRequest(`response_format.json_schema: ${e.message}`, 'response_format', 'schema_too_large');
    throw e;
  }
}

/**
 * Checks a prompt against the context and resolves max_tokens: a prompt that fills the context
 * or a max_tokens that does not fit is a 400 (as OpenAI answers), never a silent clamp.
 */
export function resolveMaxTokens(promptLen: number, requested: number | null | undefined, ctx: number, fallback: number | 'rest', promptParam: string): number {
  if (promptLen === 0) throw badRequest('The prompt is empty.', promptParam, 'empty_prompt');
  if (promptLen >= ctx) {
    throw badRequest(`The prompt has ${promptLen} tokens but this model's context length is ${ctx}.`, promptParam, 'context_length_exceeded');
  }
  const room = ctx - promptLen;
  if (requested != null) {
    if (requested > room) {
      throw badRequest(
        `max_tokens is too large: ${requested} + ${promptLen} prompt tokens exceeds the context length of ${ctx} (at most ${room} here).`,
        'max_tokens',
        'context_length_exceeded',
      );
    }
    return requested;
  }
  return fallback === 'rest' ? room : Math.min(fallback, room);
}

export function samplingOptions(p: SamplingParams, vocabSize: number | undefined, choice: number, maxTokens: number, topLogprobs: number, logprobs: boolean): SequenceOptions {
  const bias = new Map<number, number>();
  for (const [k, v] of Object.entries(p.logit_bias ?? {})) {
    const id = Number(k);
    if (vocabSize !== undefined && id >= vocabSize) throw badRequest(`logit_bias token ${id} is outside the vocabulary (0..${vocabSize - 1}).`, 'logit_bias');
    bias.set(id, v);
  }
  return {
    temperature: p.temperature ?? 1,
    topP: p.top_p ?? undefined,
    topK: p.top_k != null && p.top_k > 0 ? p.top_k : undefined,
    minP: p.min_p ?? undefined,
    repetitionPenalty: p.repetition_penalty ?? undefined,
    presencePenalty: p.presence_penalty ?? undefined,
    frequencyPenalty: p.frequency_penalty ?? undefined,
    logitBias: bias.size ? bias : undefined,
    // Each choice gets its own stream, derived from the request seed so n>1 choices differ.
    seed: p.seed != null ? deriveSeed(p.seed, choice) : undefined,
    stop: p.stop ?? undefined,
    maxTokens,
    topLogprobs,
    // Per-token logprobs cost a pass over the vocabulary: only for requests that ask for them.
    logprobs,
  };
}

export interface RunOptions {
  signal: AbortSignal;
  promptLogprobs?: boolean;
  schema?: SchemaNode;
  /**
   * Called for every step, in order per request. A returned promise pauses the request's
   * sequences until it settles (stream back-pressure) without holding up anyone else.
   */
  onStep?: (job: number, step: GenerationStep) => void | Promise<void>;
}
