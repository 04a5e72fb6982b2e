// The task registry behind pipeline(): task name -> loader. Decoder tasks (generate, chat) run
// on the causal-LM API; embed and classify on encoder models (./encoder.ts).
import type { PipelineTasks } from './index.ts';
import { loadChatPipeline, loadTextGenerationPipeline } from './text.ts';
import { loadClassifyPipeline, loadEmbedPipeline } from './encoder.ts';

type Loaders = { [T in keyof PipelineTasks]: (model: string, options: PipelineTasks[T]['options']) => Promise<PipelineTasks[T]['pipeline']> };

export const PIPELINE_TASKS: Loaders = {
  generate: loadTextGenerationPipeline,
  chat: loadChatPipeline,
  embed: loadEmbedPipeline,
  classify: loadClassifyPipeline,
};
