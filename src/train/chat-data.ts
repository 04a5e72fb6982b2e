// How the trainer renders chat records: the tokenizer's chat template when it has one (so
// the roles and markers are the model's own), else ChatML.
import { chatmlRender, type ChatReadOptions, type LossOn } from '../data/chat-records.ts';
import type { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';

export function chatReadOptions(lossOn: LossOn, tok: Pick<HfTokenizer, 'chatTemplate' | 'applyChatTemplate'>): ChatReadOptions {
  if (tok.chatTemplate === undefined) return { lossOn, render: chatmlRender };
  return { lossOn, render: (messages, generationPrompt) => tok.applyChatTemplate(messages.map((m) => ({ ...m })), { addGenerationPrompt: generationPrompt }) };
}
