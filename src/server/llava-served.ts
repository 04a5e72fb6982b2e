// A ServedModel over a LLaVA-Phi folder (src/models/llava-load.ts), for `slm serve` and
// `slm chat`: sessions are LlavaDecoderSessions (image placeholder ids → image features), chat
// prompts are conv phi-2_v0, and `vision.encodeChat` turns image content parts into the
// image's placeholder ids (each distinct image encoded once while it stays registered).
import { basename } from 'node:path';
import { codecFromTokenizer, type TextCodec } from '../generate/text-codec.ts';
import { loadLlava, type LlavaModel } from '../models/llava-load.ts';
import { LlavaDecoderSession, phi2V0Segments, tokenizeSegments } from '../models/llava-session.ts';
import type { LinearDType } from '../nn/var-builder.ts';
import type { ModelDType } from '../models/load.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import { clipPreprocessConfig, preprocessClip } from '../vision/preprocess.ts';
import type { ServedModel } from './served-model.ts';
import type { VisionChat } from './image-parts.ts';
import { maxTokenChars } from './load-model.ts';

export interface LlavaServedModel extends ServedModel {
  readonly llava: LlavaModel;
  readonly codec: TextCodec;
  readonly hasChatTemplate: boolean;
  readonly chatStop: readonly string[];
  readonly vision: VisionChat;
  encodeChat(messages: readonly ChatMessage[]): number[];
  dispose(): Promise<void>;
}

export interface LoadLlavaServedOptions {
  name?: string;
  ctx?: number;
  dtype?: ModelDType;
  threads?: number;
  cacheDir?: string | false;
  backend?: 'ort' | 'interpreter';
}

function linearDType(d: ModelDType | undefined): LinearDType | undefined {
  if (d === 'q4' || d === 'q8') return d;
  if (d === 'f16') return 'float16';
  return d === undefined ? undefined : 'float32';
}

export async function loadLlavaServedModel(path: string, o: LoadLlavaServedOptions = {}): Promise<LlavaServedModel> {
  const llava = await loadLlava(path, { backend: o.backend === 'interpreter' ? 'interpreter' : 'onnxruntime', dtype: linearDType(o.dtype), threads: o.threads, cacheDir: o.cacheDir });
  const tok = llava.tokenizer;
  const ctx = Math.min(o.ctx ?? llava.config.text.maxPositions, llava.config.text.maxPositions);
  const pre = clipPreprocessConfig(llava.imageSize, llava.config.imageAspectRatio === 'pad');
  return {
    llava,
    name: o.name ?? basename(path.replace(/[/\\]+$/, '')),
    codec: codecFromTokenizer(tok, llava.eosIds),
    vocabSize: llava.config.text.vocabSize,
    contextLength: ctx,
    // Sequences are fed one after another (concat-mode KV): a few at once keep the queue moving.
    maxSequences: 4,
    hasChatTemplate: true,
    chatStop: [],
    maxTokenChars: maxTokenChars(tok),
    createSession: async () => new LlavaDecoderSession(llava, ctx),
    encodeChat: (messages) => tokenizeSegments(tok, phi2V0Segments(messages), []),
    vision: {
      async encodeChat(messages, images, signal) {
        const ids: number[][] = [];
        for (const im of images) ids.push(await llava.imageIds(preprocessClip(im, pre), signal));
        return tokenizeSegments(tok, phi2V0Segments(messages), ids);
      },
    },
    tokenizerInfo: {
      bos_token: tok.bosId === undefined ? null : (tok.idToToken(tok.bosId) ?? null),
      eos_token: tok.eosId === undefined ? null : (tok.idToToken(tok.eosId) ?? null),
      pad_token: tok.padId === undefined ? null : (tok.idToToken(tok.padId) ?? null),
      chat_template: null,
    },
    dispose: () => llava.dispose(),
  };
}
