// ChatML, the chat format Orca 2 trains in:
//   <|im_start|>system\n{sys}<|im_end|>\n<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n{reply}<|im_end|>
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export function chatmlTurn(t: ChatTurn): string {
  return `<|im_start|>${t.role}\n${t.content}<|im_end|>\n`;
}

/** Messages in ChatML; with `generationPrompt` the text ends with the opened assistant turn. */
export function toChatML(messages: readonly ChatTurn[], o: { generationPrompt?: boolean } = {}): string {
  return messages.map(chatmlTurn).join('') + (o.generationPrompt ? '<|im_start|>assistant\n' : '');
}
