// Conversations `slm chat` loads (--load, /load) and saves (--save, /save) as JSON, in the
// message shape of OpenAI's chat API so other tools read them: {"messages": [{"role", "content"}]}.
// A bare array of messages is accepted on load. The file is untrusted: every message is checked.
import { readFileSync } from 'node:fs';
import { FormatError, SlmError } from '../errors.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';

const ROLES = new Set(['system', 'user', 'assistant']);

export function loadConversation(file: string): ChatMessage[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SlmError('NOT_FOUND', `cannot read conversation ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, undefined, `not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(json) ? json : (json as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list)) throw new FormatError(file, 'messages', 'expected {"messages": [{"role": ..., "content": ...}, ...]} or an array of messages');
  return list.map((m, i) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !ROLES.has(role)) throw new FormatError(file, `messages[${i}].role`, `must be one of system, user, assistant, got ${JSON.stringify(role)}`);
    if (typeof content !== 'string') throw new FormatError(file, `messages[${i}].content`, 'must be a string');
    return { role, content };
  });
}

export function saveConversation(file: string, messages: readonly ChatMessage[]): void {
  writeFileAtomic(file, JSON.stringify({ messages: messages.map((m) => ({ role: m.role, content: m.content })) }, null, 2) + '\n');
}

/** The conversation with `system` as its system message (replacing one it had), or as it was. */
export function withSystem(messages: readonly ChatMessage[], system: string | undefined): ChatMessage[] {
  if (system === undefined) return [...messages];
  return [{ role: 'system', content: system }, ...messages.filter((m) => m.role !== 'system')];
}
