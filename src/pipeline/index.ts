// `pipeline(task, model)`: the two-line entry point for the common case, as transformers.js's
// pipeline() and node-llama-cpp's LlamaChatSession give it.
//
//   const generate = await pipeline('generate', 'models/default');
//   const { text } = await generate('Once upon a time', { maxTokens: 40 });
//
//   const chat = await pipeline('chat', 'models/default', { system: 'You are terse.' });
//   const reply = await chat.send('Hello!');        // history and KV cache kept across turns
//
// Every pipeline exposes what it was built on (`.model`), so the full API stays one step away.
// Tasks live in a registry (src/pipeline/tasks.ts): each maps a name to a loader. The task
// types are declared in `PipelineTasks` below, so adding a task is one entry there and one
// loader in the registry.
import { SlmError } from '../errors.ts';
import type { ChatPipeline, ChatPipelineOptions, TextGenerationPipeline, TextPipelineOptions } from './text.ts';
import type { ClassifyPipeline, EmbedPipeline, EncoderPipelineOptions } from './encoder.ts';
import { PIPELINE_TASKS } from './tasks.ts';

export type { ChatPipeline, ChatPipelineOptions, ChatSendOptions, PipelineGenerateOptions, TextGenerationPipeline, TextPipelineOptions } from './text.ts';
export type { ClassifyPipeline, Classification, EmbedPipeline, EncoderPipelineOptions } from './encoder.ts';

/** What each task takes at load and what it returns. */
export interface PipelineTasks {
  /** Continue a prompt (transformers.js 'text-generation'). */
  generate: { options: TextPipelineOptions; pipeline: TextGenerationPipeline };
  /** Multi-turn chat through the model's chat template. */
  chat: { options: ChatPipelineOptions; pipeline: ChatPipeline };
  /** Sentence embeddings (transformers.js 'feature-extraction'). */
  embed: { options: EncoderPipelineOptions; pipeline: EmbedPipeline };
  /** Label scores for a text (transformers.js 'text-classification'). */
  classify: { options: EncoderPipelineOptions; pipeline: ClassifyPipeline };
}

export type PipelineTask = keyof PipelineTasks;

/** transformers.js task names, accepted as aliases. */
export const PIPELINE_TASK_ALIASES = {
  'text-generation': 'generate',
  'feature-extraction': 'embed',
  'text-classification': 'classify',
} as const satisfies Record<string, PipelineTask>;

type Alias = keyof typeof PIPELINE_TASK_ALIASES;
type Canonical<T extends PipelineTask | Alias> = T extends Alias ? (typeof PIPELINE_TASK_ALIASES)[T] : T;

/**
 * Loads `model` (a Hugging Face folder or a .gguf file) for `task` and returns a ready
 * pipeline. Unknown tasks are an INVALID_ARGUMENT error naming the ones that exist; tasks whose
 * backing models are not available yet throw UnsupportedError.
 */
export async function pipeline<T extends PipelineTask | Alias>(
  task: T,
  model: string,
  options?: PipelineTasks[Canonical<T>]['options'],
): Promise<PipelineTasks[Canonical<T>]['pipeline']> {
  const name = (Object.hasOwn(PIPELINE_TASK_ALIASES, task) ? PIPELINE_TASK_ALIASES[task as Alias] : task) as PipelineTask;
  if (!Object.hasOwn(PIPELINE_TASKS, name)) {
    const known = [...Object.keys(PIPELINE_TASKS), ...Object.keys(PIPELINE_TASK_ALIASES)].join(', ');
    throw new SlmError('INVALID_ARGUMENT', `unknown pipeline task '${String(task)}'; tasks: ${known}`);
  }
  if (typeof model !== 'string' || model === '') throw new SlmError('INVALID_ARGUMENT', `pipeline('${name}', model): model must be a path to a model folder or .gguf file`);
  const load = PIPELINE_TASKS[name] as (model: string, options: unknown) => Promise<PipelineTasks[Canonical<T>]['pipeline']>;
  return load(model, options ?? {});
}
