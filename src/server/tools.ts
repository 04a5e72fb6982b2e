// Function tools on /v1/chat/completions: which call format a model writes, how the tools reach
// its prompt, the constraint that makes a call's arguments valid JSON for the tool's schema,
// and turning the reply text back into OpenAI `tool_calls` (whole, or as stream deltas).
//
// Formats (docs/server.md):
// - A chat template that mentions `tools` gets them as HF transformers passes them
//   (`tools=[{type: "function", function: {...}}]`), and past calls as `tool_calls` with the
//   arguments as objects. The reply format is taken from the template: `<tool_call>` in it means
//   Hermes/Qwen (`<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`); `"parameters"`
//   or `<|python_tag|>` means Llama 3 (a bare `{"name": ..., "parameters": {...}}`); anything
//   else gets the Hermes format.
// - Otherwise (no template, or one without tools) the fallback: a system message lists the
//   tools and asks for the Hermes format; past calls are written in that format and tool results
//   become user turns in <tool_response> tags.
import { randomBytes } from 'node:crypto';
import { compileSchemaCached, UnsupportedSchemaError } from '../generate/constrained/json-schema.ts';
import { ToolCallConstraint, type ToolCallGrammar } from '../generate/constrained/tool-call.ts';
import type { TokenConstraint } from '../generate/sequence-run.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import { badRequest } from './api-error.ts';
import type { ServedModel } from './served-model.ts';
import { textOf, type ChatToolRequest, type FunctionTool, type RequestMessage } from './tool-schemas.ts';

export interface ToolFormat {
  style: 'hermes' | 'llama3-json';
  grammar: ToolCallGrammar;
  /** The chat template renders `tools` and `tool_calls` itself. */
  inTemplate: boolean;
}

export const HERMES_GRAMMAR: ToolCallGrammar = { open: '<tool_call>\n', argumentsKey: 'arguments', close: '\n</tool_call>' };
const LLAMA3_GRAMMAR: ToolCallGrammar = { open: '', argumentsKey: 'parameters', close: '' };
export const FALLBACK_TOOL_FORMAT: ToolFormat = { style: 'hermes', grammar: HERMES_GRAMMAR, inTemplate: false };

/** The call format a chat template implies (see the header). */
export function detectToolFormat(template: string | undefined): ToolFormat {
  if (!template || !/\btools\b/.test(template)) return FALLBACK_TOOL_FORMAT;
  if (template.includes('<tool_call>')) return { style: 'hermes', grammar: HERMES_GRAMMAR, inTemplate: true };
  if (template.includes('"parameters"') || template.includes('<|python_tag|>')) return { style: 'llama3-json', grammar: LLAMA3_GRAMMAR, inTemplate: true };
  return { style: 'hermes', grammar: HERMES_GRAMMAR, inTemplate: true };
}

/** What one chat request does with its tools. undefined: no tools (or tool_choice "none" without any). */
export interface ToolPlan {
  tools: FunctionTool[];
  format: ToolFormat;
  /** "none": tools are in the prompt but the reply is text. */
  mode: 'auto' | 'required' | 'none';
  /** For a named tool_choice, that tool only. */
  callable: FunctionTool[];
}

export function planTools(req: ChatToolRequest, model: ServedModel): ToolPlan | undefined {
  const tools = req.tools ?? [];
  const choice = req.tool_choice ?? 'auto';
  if (tools.length === 0) {
    if (choice === 'none' || choice === 'auto') return undefined; // nothing to choose from: ignored
    throw badRequest(`tool_choice ${JSON.stringify(choice)} needs tools.`, 'tool_choice');
  }
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (names.has(t.function.name)) throw badRequest(`Two tools are named '${t.function.name}'.`, `tools.${i}.function.name`);
    names.add(t.function.name);
  });
  if (req.response_format && req.response_format.type !== 'text' && choice !== 'none') {
    throw badRequest('response_format together with tools is not supported (unless tool_choice is "none").', 'response_format', 'unsupported_parameter');
  }
  if (req.logprobs) throw badRequest('logprobs together with tools is not supported.', 'logprobs', 'unsupported_parameter');
  const format = model.toolFormat ?? FALLBACK_TOOL_FORMAT;
  if (typeof choice === 'object') {
    const named = tools.find((t) => t.function.name === choice.function.name);
    if (!named) throw badRequest(`tool_choice names '${choice.function.name}', which is not in tools.`, 'tool_choice');
    return { tools, format, mode: 'required', callable: [named] };
  }
  return { tools, format, mode: choice, callable: tools };
}

/** A fresh constraint per sequence; undefined when the reply is free text ("none"). */
export function toolConstraint(plan: ToolPlan, model: ServedModel): (() => TokenConstraint) | undefined {
  if (plan.mode === 'none') return undefined;
  const compiled = plan.callable.map((t) => {
    try {
      return { name: t.function.name, parameters: compileSchemaCached(t.function.parameters ?? { type: 'object' }) };
    } catch (e) {
      const i = plan.tools.indexOf(t);
      if (e instanceof UnsupportedSchemaError) throw badRequest(`tools[${i}].function.parameters: ${e.message}`, `tools.${i}.function.parameters`, 'unsupported_schema');
      throw e;
    }
  });
  const mode = plan.mode;
  return () => new ToolCallConstraint(plan.format.grammar, compiled, mode, model.codec, model.vocabSize);
}

/** The text of one call in a format (for past calls the template cannot render). */
export function callText(g: ToolCallGrammar, name: string, args: string): string {
  return `${g.open}{"name": ${JSON.stringify(name)}, ${JSON.stringify(g.argumentsKey)}: ${args}}${g.close}`;
}

/** The tools as HF chat templates receive them. */
export function templateTools(tools: readonly FunctionTool[]): unknown[] {
  return tools.map((t) => ({ type: 'function', function: { ...t.function, parameters: t.function.parameters ?? { type: 'object', properties: {} } } }));
}

function parseArguments(args: string, where: string): unknown {
  if (!args.trim()) return {}; // some clients send "" for a call without arguments
  try {
    return JSON.parse(args);
  } catch {
    throw badRequest(`${where}: arguments are not valid JSON.`, where);
  }
}

/** The fallback system text: the tools and the Hermes call format. */
export function fallbackToolsPrompt(tools: readonly FunctionTool[]): string {
  const list = templateTools(tools).map((t) => JSON.stringify(t)).join('\n');
  return (
    `# Tools\n\nYou may call one of these functions to help with the user's request:\n<tools>\n${list}\n</tools>\n\n` +
    `To call a function, reply with nothing but:\n<tool_call>\n{"name": <function name>, "arguments": <arguments as a JSON object>}\n</tool_call>`
  );
}

/** OpenAI messages as the chat template (or the fallback format) wants them. */
export function toChatMessages(messages: readonly RequestMessage[], plan: ToolPlan | undefined, format: ToolFormat): ChatMessage[] {
  const out: ChatMessage[] = messages.map((m, i) => {
    if (m.role === 'tool') {
      if (format.inTemplate) return { role: 'tool', content: textOf(m.content), tool_call_id: m.tool_call_id };
      return { role: 'user', content: `<tool_response>\n${textOf(m.content)}\n</tool_response>` };
    }
    if (m.role === 'assistant') {
      const calls = m.tool_calls ?? [];
      const text = textOf(m.content);
      if (calls.length === 0) return { role: 'assistant', content: text };
      const args = calls.map((c, j) => parseArguments(c.function.arguments, `messages.${i}.tool_calls.${j}.function`));
      if (format.inTemplate) {
        return { role: 'assistant', content: text, tool_calls: calls.map((c, j) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: args[j] } })) };
      }
      const written = calls.map((c, j) => callText(format.grammar, c.function.name, JSON.stringify(args[j]))).join('\n');
      return { role: 'assistant', content: text ? `${text}\n${written}` : written };
    }
    return { role: m.role, content: textOf(m.content), ...(m.name !== undefined ? { name: m.name } : {}) };
  });
  if (plan && !format.inTemplate) {
    const intro = fallbackToolsPrompt(plan.tools);
    if (out[0]?.role === 'system') out[0] = { ...out[0], content: `${out[0].content}\n\n${intro}` };
    else out.unshift({ role: 'system', content: intro });
  }
  return out;
}

export const newCallId = () => `call_${randomBytes(12).toString('hex')}`;

export type ReplyDelta = { content: string } | { call: string } | { arguments: string };

/**
 * Reads a reply's text as it grows and says what it is: content, or one tool call (its name
 * once complete, then its arguments in pieces). In "auto", text that is still a prefix of the
 * call opening is held back until it either completes the opening or leaves it.
 */
export class ToolReplyParser {
  private text = '';
  private state: 'undecided' | 'text' | 'call';
  private emittedText = 0;
  private readonly head: string;
  private readonly mid: string;
  private readonly tail: string;
  private readonly commit: string;
  name: string | undefined;
  /** Where the call starts (after leading whitespace). */
  private base = 0;
  private argsStart = -1;
  private emittedArgs = 0;

  constructor(
    grammar: ToolCallGrammar,
    mode: 'auto' | 'required' | 'none',
  ) {
    this.head = `${grammar.open}{"name": "`;
    this.mid = `", ${JSON.stringify(grammar.argumentsKey)}: `;
    this.tail = `}${grammar.close}`;
    this.commit = grammar.open || '{';
    this.state = mode === 'required' ? 'call' : mode === 'auto' ? 'undecided' : 'text';
  }

  get isCall(): boolean {
    return this.state === 'call' && this.name !== undefined;
  }

  push(delta: string): ReplyDelta[] {
    this.text += delta;
    return this.drain(false);
  }

  end(): ReplyDelta[] {
    return this.drain(true);
  }

  /** The whole call's arguments (after end()). */
  get arguments(): string {
    if (this.argsStart < 0) return '';
    return this.text.slice(this.argsStart, this.text.endsWith(this.tail) ? this.text.length - this.tail.length : this.text.length);
  }

  /** The reply's content when it is text (after end()). */
  get content(): string {
    return this.text;
  }

  private drain(final: boolean): ReplyDelta[] {
    const out: ReplyDelta[] = [];
    if (this.state === 'undecided') {
      // Leading spaces and newlines keep the decision open, as in the constraint (tool-call.ts).
      const rest = this.text.replace(/^[ \n]+/, '');
      if (rest.startsWith(this.commit)) {
        this.state = 'call';
        this.base = this.text.length - rest.length;
      } else if (this.commit.startsWith(rest) && !final) return out;
      else this.state = 'text';
    }
    if (this.state === 'call' && this.name === undefined) {
      const start = this.base + this.head.length;
      const nameEnd = this.text.length >= start ? this.text.indexOf('"', start) : -1;
      if (nameEnd >= 0 && this.text.length >= nameEnd + this.mid.length) {
        this.name = this.text.slice(start, nameEnd);
        this.argsStart = nameEnd + this.mid.length;
        out.push({ call: this.name });
      } else if (final) this.state = 'text'; // cut off before the name was complete
    }
    if (this.state === 'text') {
      if (this.text.length > this.emittedText) out.push({ content: this.text.slice(this.emittedText) });
      this.emittedText = this.text.length;
      return out;
    }
    if (this.name !== undefined) {
      // The tail ("}" and the closing marker) is held back until the end shows where the arguments stop.
      const end = final ? this.argsStart + this.arguments.length : Math.max(this.argsStart, this.text.length - this.tail.length);
      const from = this.argsStart + this.emittedArgs;
      if (end > from) {
        out.push({ arguments: this.text.slice(from, end) });
        this.emittedArgs = end - this.argsStart;
      }
    }
    return out;
  }
}
