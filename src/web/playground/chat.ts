// Chat prompts and the server's streamed answers, for the playground page.
import type { ChatMessage, Tokenizer } from '../../tokenizer/types.ts';

export interface ChatTurn extends ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

/**
 * The conversation's prompt ids: the tokenizer's chat template, or — for base models without
 * one — the "User: …\nAssistant:" lines the server uses for them (src/server/load-model.ts,
 * fallbackChatPrompt; not imported because that module reaches Node's file system), stopping
 * where a base model would write the user's next turn.
 */
export function chatPrompt(tok: Tokenizer, turns: readonly ChatTurn[]): { ids: number[]; stop?: string[] } {
  if (tok.chatTemplate !== undefined) return { ids: tok.encodeChat(turns, { addGenerationPrompt: true }) };
  const label = { system: 'System', user: 'User', assistant: 'Assistant' } as const;
  let text = '';
  for (const t of turns) text += t.role === 'system' ? `${label[t.role]}: ${t.content}\n\n` : `${label[t.role]}: ${t.content}\n`;
  return { ids: tok.encode(`${text}Assistant:`, { addSpecialTokens: true }), stop: ['\nUser:'] };
}

export interface StreamChunk {
  choices?: { text?: string; delta?: { content?: string }; finish_reason?: string | null }[];
  error?: { message: string };
}

/** The JSON events of a server-sent-events body (OpenAI streaming), until [DONE]. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamChunk> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.replace(/^data: ?/m, '');
      if (data === '[DONE]') return;
      const chunk = JSON.parse(data) as StreamChunk;
      if (chunk.error) throw new Error(chunk.error.message);
      yield chunk;
    }
  }
}
