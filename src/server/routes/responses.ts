// POST /v1/responses: the OpenAI Responses API for text in and text out, streamed as its named
// events, with text.format json_schema / json_object. The request becomes a chat request and
// runs through the chat route's preparation (same template, stops and constraints). What it does
// not support (tools, previous_response_id, reasoning, images, ...) is a 400 naming it.
import { z } from 'zod';
import type { GenerateResult } from '../../generate/sequence-run.ts';
import { ApiError } from '../api-error.ts';
import type { ServerContext } from '../context.ts';
import { dropIgnoredParams } from '../ignored-params.ts';
import { parseBody } from '../schemas.ts';
import type { ChatToolRequest, RequestMessage } from '../tool-schemas.ts';
import { executeOnce, executeStream, newId, nowSeconds } from './execute.ts';
import { prepareChat } from './chat.ts';

const inputText = z.strictObject({ type: z.literal('input_text'), text: z.string() });
const outputText = z.strictObject({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()).max(0).optional(), logprobs: z.array(z.unknown()).optional() });
const inputMessage = z.strictObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer']),
  content: z.union([z.string(), z.array(inputText)]),
});
const assistantMessage = z.strictObject({
  type: z.literal('message').optional(),
  id: z.string().optional(),
  status: z.string().optional(),
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.union([outputText, inputText]))]),
});

const textFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().optional(),
    strict: z.boolean().nullable().optional(),
  }),
]);

export const responsesRequest = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.union([inputMessage, assistantMessage])).min(1)]),
  instructions: z.string().nullable().optional(),
  max_output_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({}).nullable().optional(),
  text: z.strictObject({ format: textFormat.optional() }).optional(),
});
type ResponsesRequest = z.infer<typeof responsesRequest>;

function toChatRequest(req: ResponsesRequest): ChatToolRequest {
  const messages: RequestMessage[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input });
  else {
    for (const item of req.input) {
      const text = typeof item.content === 'string' ? item.content : item.content.map((p) => p.text).join('');
      messages.push(item.role === 'assistant' ? { role: 'assistant', content: text } : { role: item.role, content: text });
    }
  }
  const f = req.text?.format;
  return {
    model: req.model,
    messages,
    max_completion_tokens: req.max_output_tokens,
    temperature: req.temperature,
    top_p: req.top_p,
    response_format:
      f?.type === 'json_schema' ? { type: 'json_schema', json_schema: { name: f.name, schema: f.schema, description: f.description, strict: f.strict } } : f,
  };
}

export async function responses(sc: ServerContext, body: unknown, clientSignal: AbortSignal): Promise<Response> {
  const req = parseBody(responsesRequest, dropIgnoredParams(body, 'responses'));
  const { promptIds, jobs, schema } = await prepareChat(sc, toChatRequest(req), clientSignal);
  const id = newId('resp');
  const itemId = newId('msg');
  const createdAt = nowSeconds();
  const skeleton = {
    id,
    object: 'response',
    created_at: createdAt,
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    metadata: {},
    model: sc.model.name,
    parallel_tool_calls: false,
    temperature: req.temperature ?? 1,
    tool_choice: 'none',
    tools: [],
    top_p: req.top_p ?? 1,
    text: { format: req.text?.format ?? { type: 'text' } },
    truncation: 'disabled',
  };
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const message = (text: string, status: 'in_progress' | 'completed' | 'incomplete') => ({
    id: itemId,
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'in_progress' ? [] : [part(text)],
  });
  const final = (r: GenerateResult) => {
    const incomplete = r.finishReason === 'length';
    return {
      ...skeleton,
      status: incomplete ? 'incomplete' : 'completed',
      completed_at: incomplete ? null : nowSeconds(),
      incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
      output: [message(r.text, incomplete ? 'incomplete' : 'completed')],
      usage: {
        input_tokens: promptIds.length,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: r.tokens.length,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: promptIds.length + r.tokens.length,
      },
    };
  };

  if (!req.stream) {
    const [r] = await executeOnce(sc, clientSignal, { jobs, run: { schema } }, () => {});
    return Response.json(final(r!));
  }

  let seq = 0;
  const emit = (w: { send(d: unknown, e?: string): void }, type: string, fields: Record<string, unknown>) => w.send({ type, sequence_number: seq++, ...fields }, type);
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  return executeStream(
    sc,
    clientSignal,
    { jobs, run: { schema } },
    {
      start(w) {
        const pending = { ...skeleton, status: 'in_progress', completed_at: null, output: [], usage: null };
        emit(w, 'response.created', { response: pending });
        emit(w, 'response.in_progress', { response: pending });
        emit(w, 'response.output_item.added', { output_index: 0, item: message('', 'in_progress') });
        emit(w, 'response.content_part.added', { ...at, part: part('') });
      },
      step(w, _j, step) {
        if (!step.textDelta) return;
        emit(w, 'response.output_text.delta', { ...at, delta: step.textDelta, logprobs: [] });
      },
      end(w, [r]) {
        if (r!.textTail) emit(w, 'response.output_text.delta', { ...at, delta: r!.textTail, logprobs: [] });
        const done = final(r!);
        emit(w, 'response.output_text.done', { ...at, text: r!.text, logprobs: [] });
        emit(w, 'response.content_part.done', { ...at, part: part(r!.text) });
        emit(w, 'response.output_item.done', { output_index: 0, item: done.output[0] });
        emit(w, done.status === 'completed' ? 'response.completed' : 'response.incomplete', { response: done });
      },
      error(w, e: ApiError) {
        emit(w, 'error', { code: e.code ?? e.type, message: e.message, param: e.param });
      },
    },
    { doneMarker: false },
  );
}
