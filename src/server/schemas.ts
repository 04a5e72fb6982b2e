// Request bodies as strict zod objects: any parameter the server does not implement is a 400
// naming it, never silently dropped (ollama#16117, ollama#16563 are what dropping looks like).
import { z } from 'zod';
import { badRequest, type ApiError } from './api-error.ts';

const stop = z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional();
const logitBias = z
  .record(z.string().regex(/^\d+$/, 'logit_bias keys must be token ids'), z.number().min(-100).max(100))
  .nullable()
  .optional();

const samplingFields = {
  model: z.string().min(1),
  max_tokens: z.number().int().min(0).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  n: z.number().int().min(1).max(16).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  stop,
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: logitBias,
  seed: z.number().int().nullable().optional(),
  user: z.string().optional(),
  // Common extensions (vLLM / llama.cpp names).
  top_k: z.number().int().min(-1).nullable().optional(),
  min_p: z.number().min(0).max(1).nullable().optional(),
  repetition_penalty: z.number().gt(0).nullable().optional(),
};

const jsonSchemaFormat = z.strictObject({
  type: z.literal('json_schema'),
  json_schema: z.strictObject({
    name: z.string().min(1).max(64),
    description: z.string().optional(),
    schema: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});
export const responseFormat = z
  .discriminatedUnion('type', [z.strictObject({ type: z.literal('text') }), z.strictObject({ type: z.literal('json_object') }), jsonSchemaFormat])
  .optional();

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const message = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]).nullable(),
  name: z.string().optional(),
});

export const chatRequest = z.strictObject({
  ...samplingFields,
  messages: z.array(message).min(1, 'messages must not be empty'),
  max_completion_tokens: z.number().int().min(0).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  response_format: responseFormat,
});
export type ChatRequest = z.infer<typeof chatRequest>;

export const completionRequest = z.strictObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int().min(0)).min(1), z.array(z.array(z.number().int().min(0)).min(1)).min(1)]),
  logprobs: z.number().int().min(0).max(20).nullable().optional(),
  echo: z.boolean().nullable().optional(),
  best_of: z.number().int().min(1).max(16).nullable().optional(),
  response_format: responseFormat,
});
export type CompletionRequest = z.infer<typeof completionRequest>;

export const embeddingRequest = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int().min(0)).min(1), z.array(z.array(z.number().int().min(0)).min(1)).min(1)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequest>;

export const tokenizeRequest = z.strictObject({
  model: z.string().optional(),
  content: z.string().optional(),
  prompt: z.string().optional(),
  add_special: z.boolean().optional(),
  // lm-eval's remote tokenizer (vLLM's name for the same switch).
  add_special_tokens: z.boolean().optional(),
});
export const detokenizeRequest = z.strictObject({
  model: z.string().optional(),
  tokens: z.array(z.number().int().min(0)),
});

/** Parses a body or throws a 400 that names the offending parameter. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  throw zodToApiError(r.error);
}

function zodToApiError(err: z.ZodError): ApiError {
  const issue = err.issues[0];
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return badRequest(`Unsupported parameter(s): ${keys.join(', ')}. This server does not implement them.`, keys[0], 'unsupported_parameter');
  }
  if (issue.code === 'invalid_union' && path === 'response_format') {
    return badRequest(`Invalid response_format: ${issue.message}`, path);
  }
  return badRequest(`Invalid value for '${path || 'body'}': ${issue.message}`, path || null, 'invalid_value');
}
