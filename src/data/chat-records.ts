// Chat records in training data: a JSONL line {"messages": [{role, content}, ...]} is rendered
// with the chat template (the tokenizer's, else ChatML) and becomes
//   lossOn 'assistant': one supervised pair per assistant turn, prompt = the conversation up
//     to that turn with the assistant opener, response = the rest of the rendering through the
//     end of the turn (so the turn's closing marker is trained and the model learns to stop);
//     earlier assistant turns are context only. A conversation with k assistant turns is
//     packed as k documents (its prefix repeated), which keeps the one-prompt-length layout
//     of the token cache.
//   lossOn 'all': the whole rendering as one plain document (loss on every token).
import { SlmError } from '../errors.ts';

export type LossOn = 'assistant' | 'all';

export interface ChatMessageLike {
  role: string;
  content: string;
}

/** Renders messages; `generationPrompt` appends the assistant-turn opener. */
export type ChatRender = (messages: readonly ChatMessageLike[], generationPrompt: boolean) => string;

export interface ChatReadOptions {
  lossOn: LossOn;
  render: ChatRender;
}

/** ChatML (the Orca 2 format): <|im_start|>role\ncontent<|im_end|>\n per turn; opener <|im_start|>assistant\n. */
export const chatmlRender: ChatRender = (messages, generationPrompt) => messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + (generationPrompt ? '<|im_start|>assistant\n' : '');

export type ChatPiece = { kind: 'text'; text: string; endOfDocument: true } | { kind: 'pair'; prompt: string; response: string };

/** Validates a "messages" value; throws with `where` in the message. */
export function parseMessages(raw: unknown, where: string): ChatMessageLike[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new SlmError('INVALID_ARGUMENT', `${where}: "messages" must be a non-empty array`);
  return raw.map((m, i) => {
    const r = m as Record<string, unknown>;
    if (!r || typeof r.role !== 'string' || typeof r.content !== 'string') throw new SlmError('INVALID_ARGUMENT', `${where}: messages[${i}] needs string "role" and "content"`);
    return { role: r.role, content: r.content };
  });
}

/** The training pieces of one conversation (see the file comment). */
export function chatPieces(messages: readonly ChatMessageLike[], o: ChatReadOptions, where = 'chat record'): ChatPiece[] {
  if (o.lossOn === 'all') return [{ kind: 'text', text: o.render(messages, false), endOfDocument: true }];
  const out: ChatPiece[] = [];
  messages.forEach((m, j) => {
    if (m.role !== 'assistant') return;
    const prompt = o.render(messages.slice(0, j), true);
    const full = o.render(messages.slice(0, j + 1), false);
    if (!full.startsWith(prompt)) throw new SlmError('INVALID_ARGUMENT', `${where}: the chat template's rendering with the assistant turn does not start with its rendering up to the assistant opener, so the assistant tokens cannot be told apart (use lossOn "all")`);
    out.push({ kind: 'pair', prompt, response: full.slice(prompt.length) });
  });
  if (out.length === 0) throw new SlmError('INVALID_ARGUMENT', `${where}: no assistant turn to train on (lossOn "assistant")`);
  return out;
}
