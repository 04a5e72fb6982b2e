// The decoder tasks of pipeline(): 'generate' (continue a prompt) and 'chat' (a conversation
// through the model's chat template, or the documented "User:/Assistant:" fallback when it has
// none). Both keep one KV-cached session and a PrefixCache, so a prompt that extends the last
// one (the next chat turn) feeds only its new tokens. Calls on one pipeline run one at a time.
import { SlmError } from '../errors.ts';
import { generate } from '../generate/generate.ts';
import { PrefixCache } from '../generate/prefix-cache.ts';
import type { GenerateResult, SequenceOptions } from '../generate/sequence-run.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { CausalLM, LoadModelOptions } from '../models/load.ts';
import { loadServedModel, type LoadedModel } from '../server/load-model.ts';
import type { ChatMessage } from '../tokenizer/types.ts';

export interface TextPipelineOptions extends Pick<LoadModelOptions, 'dtype' | 'threads' | 'cacheDir' | 'context' | 'backend' | 'signal'> {}

export interface ChatPipelineOptions extends TextPipelineOptions {
  /** The system message that opens (and survives reset() of) the conversation. */
  system?: string;
}

export interface PipelineGenerateOptions extends SequenceOptions {
  signal?: AbortSignal;
  /** Called with each piece of text as it is generated (streaming). */
  onText?: (delta: string) => void;
}

export type ChatSendOptions = PipelineGenerateOptions;

/** Defaults where a call sets nothing: the same as `slm generate` and `slm chat`. */
export const PIPELINE_SAMPLING_DEFAULTS = { maxTokens: 256, temperature: 0.7, topP: 0.95 } as const;

export interface TextGenerationPipeline {
  /** Continues `prompt`; `text` of the result is the continuation only. */
  (prompt: string, options?: PipelineGenerateOptions): Promise<GenerateResult>;
  /** The loaded model: tokenizer, sessions, embeddings — the full API. */
  readonly model: CausalLM;
  dispose(): Promise<void>;
}

export interface ChatPipeline {
  /** Adds a user message, generates the assistant's reply, keeps both in the history. */
  send(message: string, options?: ChatSendOptions): Promise<string>;
  /** The conversation so far (system message first when one was given). */
  readonly history: readonly ChatMessage[];
  /** Forgets the conversation (keeps the system message). */
  reset(): void;
  readonly model: CausalLM;
  dispose(): Promise<void>;
}

/** One session with its prefix tracker; runs calls one after another. */
class SerialSession {
  private tail: Promise<unknown> = Promise.resolve();
  private disposed = false;
  readonly cache: PrefixCache;

  constructor(
    readonly loaded: LoadedModel,
    readonly session: DecoderSession,
  ) {
    this.cache = new PrefixCache(session);
  }

  run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.disposed) return Promise.reject(new SlmError('INVALID_ARGUMENT', 'the pipeline was disposed'));
    const r = this.tail.then(fn);
    this.tail = r.catch(() => undefined);
    return r;
  }

  /** Generates from prompt ids, capping maxTokens at the room left in the context. */
  async generate(ids: number[], o: PipelineGenerateOptions, extraStop: readonly string[] = []): Promise<GenerateResult> {
    const context = this.loaded.contextLength;
    if (ids.length >= context) throw new SlmError('INVALID_ARGUMENT', `the prompt has ${ids.length} tokens but the context holds ${context}`);
    const { onText, ...rest } = o;
    const userStop = typeof rest.stop === 'string' ? [rest.stop] : (rest.stop ?? []);
    const stop = [...userStop, ...extraStop];
    const gen = generate(this.session, this.loaded.codec, ids, {
      ...PIPELINE_SAMPLING_DEFAULTS,
      ...rest,
      stop: stop.length ? stop : undefined,
      maxTokens: Math.min(rest.maxTokens ?? PIPELINE_SAMPLING_DEFAULTS.maxTokens, context - ids.length),
      cache: this.cache,
    });
    for await (const step of gen) if (onText && step.textDelta) onText(step.textDelta);
    const r = await gen.done();
    if (onText && r.textTail) onText(r.textTail);
    return r;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.tail;
    await this.session.dispose();
    await this.loaded.dispose();
  }
}

async function open(model: string, o: TextPipelineOptions): Promise<SerialSession> {
  const loaded = await loadServedModel(model, { ctx: o.context, dtype: o.dtype, threads: o.threads, cacheDir: o.cacheDir, backend: o.backend, signal: o.signal, maxSequences: 1 });
  return new SerialSession(loaded, await loaded.createSession());
}

function checkText(what: string, s: unknown): string {
  if (typeof s !== 'string' || s === '') throw new SlmError('INVALID_ARGUMENT', `${what} must be a non-empty string`);
  return s;
}

export async function loadTextGenerationPipeline(model: string, options: TextPipelineOptions = {}): Promise<TextGenerationPipeline> {
  const s = await open(model, options);
  const run = (prompt: string, o: PipelineGenerateOptions = {}) =>
    s.run(() => s.generate(s.loaded.codec.encode(checkText('the prompt', prompt), { addSpecialTokens: true }), o));
  return Object.assign(run, { model: s.loaded.lm, dispose: () => s.dispose() });
}

export async function loadChatPipeline(model: string, options: ChatPipelineOptions = {}): Promise<ChatPipeline> {
  const s = await open(model, options);
  const opening = (): ChatMessage[] => (options.system !== undefined ? [{ role: 'system', content: options.system }] : []);
  let history = opening();
  return {
    get history() {
      return history;
    },
    model: s.loaded.lm,
    reset() {
      history = opening();
    },
    send(message: string, o: ChatSendOptions = {}) {
      return s.run(async () => {
        const turn = [...history, { role: 'user', content: checkText('the message', message) }];
        const ids = s.loaded.encodeChat(turn);
        if (ids.length >= s.loaded.contextLength) {
          throw new SlmError('INVALID_ARGUMENT', `the conversation has ${ids.length} tokens but the context holds ${s.loaded.contextLength}; reset() to start over`);
        }
        const r = await s.generate(ids, o, s.loaded.chatStop);
        const reply = r.text.trim();
        history = [...turn, { role: 'assistant', content: reply }];
        return reply;
      });
    },
    dispose: () => s.dispose(),
  };
}
