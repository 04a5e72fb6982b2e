// Request parameters that cannot change what the model writes, accepted and dropped before the
// strict schemas see the body (as vLLM, llama.cpp's server and ollama accept them), because
// client frameworks send them by default. Anything else the server does not implement still
// gets a 400 naming it. This table is the one list; docs/server.md shows it.
import { z } from 'zod';
import { badRequest } from './api-error.ts';

export type Endpoint = 'chat' | 'completions' | 'responses';

export interface IgnoredParam {
  name: string;
  endpoints: readonly Endpoint[];
  /** The values accepted (anything else is a 400 for that parameter). */
  value: z.ZodType;
  /** Ignored only when this holds for the body; otherwise the endpoint handles it (or 400s). */
  when?: (body: Record<string, unknown>) => boolean;
  why: string;
}

const ALL: readonly Endpoint[] = ['chat', 'completions', 'responses'];
const noTools = (b: Record<string, unknown>) => !Array.isArray(b.tools) || b.tools.length === 0;
const notStreaming = (b: Record<string, unknown>) => b.stream !== true;

export const IGNORED_PARAMS: readonly IgnoredParam[] = [
  { name: 'store', endpoints: ALL, value: z.boolean().nullable(), why: 'nothing is stored; responses are not kept for later retrieval' },
  { name: 'metadata', endpoints: ALL, value: z.record(z.string(), z.string()).nullable(), why: 'tags for stored completions' },
  { name: 'user', endpoints: ALL, value: z.string().nullable(), why: 'an end-user id for abuse monitoring' },
  { name: 'safety_identifier', endpoints: ALL, value: z.string().nullable(), why: 'an end-user id for abuse monitoring' },
  { name: 'prompt_cache_key', endpoints: ALL, value: z.string().nullable(), why: 'prompt-prefix reuse is automatic here' },
  { name: 'prompt_cache_retention', endpoints: ALL, value: z.string().nullable(), why: 'prompt-prefix reuse is automatic here' },
  { name: 'service_tier', endpoints: ALL, value: z.string().nullable(), why: 'one tier: this server' },
  {
    name: 'stream_options',
    endpoints: ALL,
    value: z.record(z.string(), z.unknown()).nullable(),
    when: notStreaming,
    why: 'only affects streams (include_usage is honoured when streaming)',
  },
  { name: 'parallel_tool_calls', endpoints: ALL, value: z.boolean().nullable(), when: noTools, why: 'there are no tools to call' },
  { name: 'tool_choice', endpoints: ALL, value: z.enum(['none', 'auto']).nullable(), when: noTools, why: 'there are no tools to call' },
  { name: 'tools', endpoints: ALL, value: z.array(z.unknown()).max(0).nullable(), when: noTools, why: 'an empty list' },
  { name: 'n', endpoints: ['responses'], value: z.literal(1).nullable(), why: 'one output' },
  { name: 'background', endpoints: ['responses'], value: z.literal(false).nullable(), why: 'the default: answer in the request' },
  { name: 'truncation', endpoints: ['responses'], value: z.literal('disabled').nullable(), why: 'the default: a prompt that does not fit is a 400' },
  { name: 'include', endpoints: ['responses'], value: z.array(z.unknown()).max(0).nullable(), why: 'an empty list' },
];

/** Inside stream_options: extra keys the stream writer does not need. */
const IGNORED_STREAM_OPTIONS = ['include_obfuscation'];

/**
 * A shallow copy of the body without the parameters that cannot change the output (400 when one
 * has a value outside what the table allows).
 */
export function dropIgnoredParams(body: unknown, endpoint: Endpoint): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const src = body as Record<string, unknown>;
  const out: Record<string, unknown> = { ...src };
  for (const p of IGNORED_PARAMS) {
    if (!(p.name in src) || !p.endpoints.includes(endpoint)) continue;
    if (p.when && !p.when(src)) continue;
    if (!p.value.safeParse(src[p.name]).success) {
      // tool_choice / tools with real values are handled by the route; the rest are invalid.
      if (p.when) continue;
      throw badRequest(`Invalid value for '${p.name}': ${JSON.stringify(src[p.name])}.`, p.name, 'invalid_value');
    }
    delete out[p.name];
  }
  const so = out.stream_options;
  if (so && typeof so === 'object' && !Array.isArray(so)) {
    const rest = { ...(so as Record<string, unknown>) };
    for (const k of IGNORED_STREAM_OPTIONS) delete rest[k];
    out.stream_options = rest;
  }
  return out;
}
