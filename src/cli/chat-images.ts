// Images in `slm chat`: a LLaVA folder loads as a vision-language chat model
// (src/server/llava-served.ts) and `/image FILE` (or --image) attaches a picture to the next
// user message. The conversation keeps each message's images (decoded once) and every turn is
// encoded with them, so the picture stays in view; its features are computed once (the model
// caches them by content) and the session's prefix cache keeps the KV of the earlier turns.
// Saved conversations (/save) hold the text only.
import { isLlavaModel } from '../models/llava-load.ts';
import type { ModelAdapter, ModelDType } from '../models/load.ts';
import { loadLlavaServedModel } from '../server/llava-served.ts';
import { loadServedModel, type LoadedModel } from '../server/load-model.ts';
import type { VisionChat, VisionMessage } from '../server/image-parts.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import type { RgbImage } from '../vision/decode.ts';
import { readImageInput } from '../vision/load-image.ts';
import { SlmError } from '../errors.ts';

export type ChatModel = Pick<LoadedModel, 'name' | 'codec' | 'contextLength' | 'hasChatTemplate' | 'chatStop' | 'createSession' | 'encodeChat' | 'dispose'> & {
  readonly vision?: VisionChat;
};

/** A chat message with the images attached to it (user messages only). */
export type ImageChatMessage = ChatMessage & { images?: readonly RgbImage[] };

export async function loadChatModel(path: string, o: { dtype?: ModelDType; threads?: number; adapter?: ModelAdapter; signal?: AbortSignal }): Promise<ChatModel> {
  if (await isLlavaModel(path)) {
    if (o.adapter) throw new SlmError('UNSUPPORTED', '--lora is not supported for vision-language (LLaVA) models yet');
    return loadLlavaServedModel(path, { dtype: o.dtype, threads: o.threads });
  }
  return loadServedModel(path, o);
}

/** Reads and decodes an image file for the chat (typed errors for missing, oversized, corrupt files). */
export async function readChatImage(model: ChatModel, file: string): Promise<RgbImage> {
  if (!model.vision) throw new SlmError('UNSUPPORTED', `${model.name} is a text-only model: images need a vision-language model (LLaVA)`);
  return readImageInput(file);
}

/** Prompt ids of a conversation, with its images when it has any. */
export async function encodeChatTurn(model: ChatModel, messages: readonly ImageChatMessage[], signal?: AbortSignal): Promise<number[]> {
  if (!messages.some((m) => m.images?.length) || !model.vision) return model.encodeChat(messages);
  const images: RgbImage[] = [];
  const vm: VisionMessage[] = messages.map((m) => {
    if (!m.images?.length) return { role: m.role, content: m.content };
    const at = images.length;
    images.push(...m.images);
    return { role: m.role, content: [...m.images.map((_, k) => ({ image: at + k })), m.content] };
  });
  return model.vision.encodeChat(vm, images, signal);
}
