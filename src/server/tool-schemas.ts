// The chat-completions body with OpenAI function tools: `tools`, `tool_choice`,
// `parallel_tool_calls`, and the messages a tool loop sends back (assistant `tool_calls`,
// `tool` results). Everything else is schemas.ts's strict chatRequest.
import { z } from 'zod';
import { chatRequest } from './schemas.ts';
import { imagePart } from './image-parts.ts';

/** OpenAI's rule for function names (it also keeps them free of JSON escapes). */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const content = z.union([z.string(), z.array(textPart)]);
// Image parts (image-parts.ts) pass the schema in user/system messages; a text-only model answers them with a 400.
const userContent = z.union([z.string(), z.array(z.union([textPart, imagePart]))]);

const toolCall = z.strictObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string(), arguments: z.string() }),
});

const plainMessage = z.strictObject({
  role: z.enum(['system', 'developer', 'user']),
  content: userContent.nullable(),
  name: z.string().optional(),
});
const assistantMessage = z.strictObject({
  role: z.literal('assistant'),
  content: content.nullable().optional(),
  name: z.string().optional(),
  refusal: z.string().nullable().optional(),
  tool_calls: z.array(toolCall).nullable().optional(),
});
const toolMessage = z.strictObject({
  role: z.literal('tool'),
  content,
  tool_call_id: z.string(),
});

export const functionTool = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: z.string().regex(TOOL_NAME, 'a function name is 1-64 of a-z, A-Z, 0-9, _ and -'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});
export type FunctionTool = z.infer<typeof functionTool>;

export const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string() }) }),
]);
export type ToolChoice = z.infer<typeof toolChoice>;

export const chatMessage = z.discriminatedUnion('role', [plainMessage, assistantMessage, toolMessage]);
export type RequestMessage = z.infer<typeof chatMessage>;

export const chatToolRequest = chatRequest.extend({
  messages: z.array(chatMessage).min(1, 'messages must not be empty'),
  tools: z.array(functionTool).max(128).nullable().optional(),
  tool_choice: toolChoice.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
});
export type ChatToolRequest = z.infer<typeof chatToolRequest>;

export const textOf = (c: z.infer<typeof userContent> | null | undefined): string => (typeof c === 'string' ? c : (c ?? []).map((p) => (p.type === 'text' ? p.text : '')).join(''));
