// A ServedModel over the toy session and byte-level toy codec, for server tests.
import type { ServedModel } from '../../src/server/served-model.ts';
import type { ChatMessage } from '../../src/tokenizer/types.ts';
import { ToyCodec, ToySession, type ToySessionOptions } from '../generate/toy-session.ts';

export const REPLY = 'Hello! How can I help?';

export interface ToyModelOptions extends Partial<ToySessionOptions> {
  name?: string;
  /** Sessions created so far (tests inspect their forward calls). */
  sessions?: ToySession[];
  withChat?: boolean;
  /** What the scripted model says (default REPLY). */
  reply?: string;
  /** ServedModel.chatStop. */
  chatStop?: readonly string[];
}

export function toyModel(o: ToyModelOptions = {}): ServedModel & { sessions: ToySession[] } {
  const codec = new ToyCodec(['Hel', 'lo', ' wo', 'rld', '<|user|>', '<|assistant|>']);
  const sessions = o.sessions ?? [];
  const { name, withChat, reply, chatStop, sessions: _s, ...sessionOpts } = o;
  const contextLength = o.maxContext ?? 1024;
  return {
    name: name ?? 'toy',
    codec,
    vocabSize: codec.vocabSize,
    contextLength,
    maxSequences: o.batchSize ?? 4,
    sessions,
    chatStop,
    async createSession() {
      const s = new ToySession({
        vocabSize: codec.vocabSize,
        maxContext: contextLength,
        batchSize: 4,
        script: codec.encode(reply ?? REPLY, { addSpecialTokens: false }),
        ...sessionOpts,
      });
      sessions.push(s);
      return s;
    },
    encodeChat:
      withChat === false
        ? undefined
        : (messages: readonly ChatMessage[]) =>
            codec.encode(messages.map((m) => `<|${m.role}|>${m.content}\n`).join('') + '<|assistant|>', { addSpecialTokens: true }),
    async embed(inputs) {
      return inputs.map((ids) => {
        const v = new Array(8).fill(0);
        for (const id of ids) v[(id * 2654435761) % 8] += 1;
        const norm = Math.hypot(...v) || 1;
        return v.map((x) => x / norm);
      });
    },
  };
}
