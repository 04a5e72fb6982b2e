// Builds a ServedModel from a model path (HF folder or GGUF file) for `slm serve`, `slm chat`
// and benchmarks: the CausalLM's sessions, its tokenizer as the text codec (with the model's
// EOS ids), chat prompts through the model's template, and mean-pooled embeddings.
import { basename } from 'node:path';
import { codecFromTokenizer, type TextCodec } from '../generate/text-codec.ts';
import { loadCausalLM, type CausalLM, type ModelAdapter, type ModelDType } from '../models/load.ts';
import type { ChatMessage, Tokenizer } from '../tokenizer/types.ts';
import { TokenizerWorker } from '../tokenizer/tokenizer-worker.ts';
import type { ServedModel } from './served-model.ts';
import { ApiError } from './api-error.ts';
import { SlmError } from '../errors.ts';
import { loadEft, type EftPair } from '../methods/eft/index.ts';
import { detectToolFormat } from './tools.ts';
import { assertSharedVocabulary } from '../methods/shared-vocabulary.ts';

export interface LoadServedModelOptions {
  /** Context length for the sessions (default: the model's, capped at 2048). */
  ctx?: number;
  /**
   * Sequences one session holds: the server decodes up to this many sequences (all concurrent
   * requests' choices) in one forward call before it opens another session. Default 16.
   */
  maxSequences?: number;
  /** Requests generating at once (the server's maxConcurrency): the memory check counts a full-context KV cache for each. Default 1. */
  concurrency?: number;
  /** The id clients send as `model`; default the folder or file name. */
  name?: string;
  dtype?: ModelDType;
  threads?: number;
  cacheDir?: string | false;
  backend?: 'ort' | 'interpreter';
  /** Applied at load without merging (LoRA: `--lora`). */
  adapter?: ModelAdapter;
  /** Serve an EFT combination: the model at `path` as the base plus these (fine-tuned, reference) pairs. */
  eft?: readonly EftPair[];
  /** Speculative decoding for every request: this small model (same tokenizer) drafts (slm serve --draft). */
  draft?: string;
  /** Prompt-lookup decoding for every request (slm serve --lookup). */
  lookup?: boolean;
  /** Draft tokens per block to start with (default 5; adapts up to 16). */
  draftTokens?: number;
  signal?: AbortSignal;
  /** Reserved: the loader builds lazily and does not report progress yet. */
  onProgress?: (p: { file: string; loaded: number; total: number }) => void;
}

/** A ServedModel over a loaded CausalLM, with what chat front ends need besides. */
export interface LoadedModel extends ServedModel {
  readonly lm: CausalLM;
  readonly codec: TextCodec;
  readonly hasChatTemplate: boolean;
  /** Stop strings a chat reply should end at (the fallback format's next-turn marker). */
  readonly chatStop: readonly string[];
  encodeChat(messages: readonly ChatMessage[], opts?: { tools?: readonly unknown[] }): number[];
  encodeAsync(text: string, opts: { addSpecialTokens?: boolean }, signal?: AbortSignal): Promise<number[]>;
  encodeChatAsync(messages: readonly ChatMessage[], signal?: AbortSignal, opts?: { tools?: readonly unknown[] }): Promise<number[]>;
  readonly maxTokenChars: number;
  embed(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<number[][]>;
  dispose(): Promise<void>;
}

/** The role names the fallback format prints. */
const ROLE_LABEL: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool' };

/**
 * The prompt for models without a chat template (base models, tiny test models):
 *
 *     System: <system>\n\nUser: <text>\nAssistant: <text>\nUser: <text>\nAssistant:
 *
 * The tokenizer's special tokens (BOS) are added once at the start. A reply should stop at
 * "\nUser:" (FALLBACK_CHAT_STOP), where a base model would go on to write the user's turn.
 */
export function fallbackChatPrompt(messages: readonly ChatMessage[]): string {
  let out = '';
  for (const m of messages) {
    const label = ROLE_LABEL[m.role] ?? m.role.charAt(0).toUpperCase() + m.role.slice(1);
    out += m.role === 'system' ? `${label}: ${m.content}\n\n` : `${label}: ${m.content}\n`;
  }
  return `${out}Assistant:`;
}

export const FALLBACK_CHAT_STOP: readonly string[] = ['\nUser:'];

/**
 * Chat prompt ids through the tokenizer's template, or the fallback format when it has none.
 * `tools` reach the template as HF's apply_chat_template(tools=...) passes them.
 */
export function encodeChatPrompt(tok: Tokenizer, messages: readonly ChatMessage[], tools?: readonly unknown[]): number[] {
  if (tok.chatTemplate !== undefined) return tok.encodeChat(messages, { addGenerationPrompt: true, ...(tools?.length ? { extra: { tools } } : {}) });
  return tok.encode(fallbackChatPrompt(messages), { addSpecialTokens: true });
}

function modelName(path: string): string {
  const base = basename(path.replace(/[/\\]+$/, ''));
  return base.endsWith('.gguf') ? base.slice(0, -'.gguf'.length) : base;
}

/** Longest vocabulary piece in characters: no token stands for more text than this. */
export function maxTokenChars(tok: Tokenizer): number {
  let max = 1;
  for (let id = 0; id < tok.vocabSize; id++) max = Math.max(max, tok.idToToken(id)?.length ?? 0);
  return max;
}

export async function loadServedModel(path: string, opts: LoadServedModelOptions = {}): Promise<LoadedModel> {
  const loadOpts = { context: opts.ctx, sequences: opts.concurrency, dtype: opts.dtype, threads: opts.threads, cacheDir: opts.cacheDir, backend: opts.backend, signal: opts.signal };
  if (opts.eft?.length && opts.adapter) throw new SlmError('INVALID_ARGUMENT', 'a LoRA adapter cannot be combined with EFT: merge it into a model first (slm merge)');
  // EFT: every session is a CombinedSession over the base and the pairs (src/methods/eft).
  const eft = opts.eft?.length ? await loadEft(path, opts.eft, loadOpts) : undefined;
  const lm = eft?.base ?? (await loadCausalLM(path, { ...loadOpts, adapter: opts.adapter }));
  // EFT's speculative variant (--draft naming an --eft-ft model) drafts with the loaded one.
  const reusedDraft = opts.draft !== undefined && !opts.lookup ? eft?.modelAt(opts.draft) : undefined;
  const draftLm = reusedDraft ?? await loadDraft(path, lm, opts, loadOpts).catch(async (e) => {
    await (eft ? eft.dispose() : lm.dispose());
    throw e;
  });
  const tok = lm.tokenizer;
  const hasChatTemplate = tok.chatTemplate !== undefined;
  // Long texts and chat templates (untrusted code from the model folder) are tokenized on a
  // worker thread with its own copy of the tokenizer, started on first use.
  let worker: TokenizerWorker | undefined;
  const offload = () => (worker ??= new TokenizerWorker(path));
  return {
    lm,
    name: opts.name ?? modelName(path),
    codec: codecFromTokenizer(tok, lm.eosIds),
    vocabSize: lm.vocabSize,
    contextLength: eft?.context ?? lm.context,
    maxSequences: opts.maxSequences ?? 16,
    hasChatTemplate,
    chatStop: hasChatTemplate ? [] : FALLBACK_CHAT_STOP,
    createSession: async () => (eft ? eft.createSession() : lm.createSession()),
    speculative:
      draftLm || opts.lookup ? { createDraftSession: draftLm ? async () => draftLm.createSession() : undefined, draftTokens: opts.draftTokens } : undefined,
    tokenizerInfo: {
      bos_token: tok.bosId === undefined ? null : (tok.idToToken(tok.bosId) ?? null),
      eos_token: tok.eosId === undefined ? null : (tok.idToToken(tok.eosId) ?? null),
      pad_token: tok.padId === undefined ? null : (tok.idToToken(tok.padId) ?? null),
      chat_template: tok.chatTemplate ?? null,
    },
    encodeChat: (messages, o) => encodeChatPrompt(tok, messages, o?.tools),
    toolFormat: detectToolFormat(tok.chatTemplate),
    encodeAsync: (text, o, signal) => offload().encode(text, o, signal),
    encodeChatAsync: (messages, signal, o) =>
      hasChatTemplate
        ? offload().encodeChat(messages, { addGenerationPrompt: true, ...(o?.tools?.length ? { extra: { tools: o.tools } } : {}) }, signal)
        : offload().encode(fallbackChatPrompt(messages), { addSpecialTokens: true }, signal),
    maxTokenChars: maxTokenChars(tok),
    async embed(inputs, signal) {
      if (eft) throw new ApiError(400, 'Embeddings are not defined for an EFT combination of models; serve one model for /v1/embeddings.', 'invalid_request_error', null, 'unsupported_model');
      const vectors = await lm.embed(inputs, signal);
      // Unit length, as OpenAI's embeddings are: cosine similarity is then a dot product.
      return vectors.map((v) => {
        let norm = 0;
        for (const x of v) norm += x * x;
        norm = Math.sqrt(norm) || 1;
        return Array.from(v, (x) => x / norm);
      });
    },
    async dispose() {
      await worker?.close();
      await (eft ? eft.dispose() : lm.dispose());
      if (!reusedDraft) await draftLm?.dispose();
    },
  };
}

/** The draft model of --draft, checked to share the served model's vocabulary. */
async function loadDraft(path: string, lm: CausalLM, opts: LoadServedModelOptions, loadOpts: Parameters<typeof loadCausalLM>[1]): Promise<CausalLM | undefined> {
  if (opts.draft !== undefined && opts.lookup) throw new SlmError('INVALID_ARGUMENT', 'give either a draft model or prompt lookup, not both');
  if (opts.draftTokens !== undefined && !(Number.isInteger(opts.draftTokens) && opts.draftTokens >= 1 && opts.draftTokens <= 64)) {
    throw new SlmError('INVALID_ARGUMENT', `draft tokens must be an integer in 1..64, got ${opts.draftTokens}`);
  }
  if (opts.draft === undefined) return undefined;
  const draft = await loadCausalLM(opts.draft, loadOpts);
  try {
    assertSharedVocabulary(
      [
        { name: path, vocabSize: lm.vocabSize, tokenizer: lm.tokenizer },
        { name: opts.draft, vocabSize: draft.vocabSize, tokenizer: draft.tokenizer },
      ],
      '--draft',
    );
  } catch (e) {
    await draft.dispose();
    throw e;
  }
  return draft;
}
