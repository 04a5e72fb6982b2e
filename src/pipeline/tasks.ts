// The task registry behind pipeline(): task name -> loader. Decoder tasks (generate, chat) run
// on the causal-LM API; embed and classify are for encoder models and are hooked in here when
// the encoder API lands (replace the two loaders; the types are in ./encoder.ts).
import type { PipelineTasks } from './index.ts';
import { loadChatPipeline, loadTextGenerationPipeline } from './text.ts';
import { encoderTaskNotAvailable } from './encoder.ts';

type Loaders = { [T in keyof PipelineTasks]: (model: string, options: PipelineTasks[T]['options']) => Promise<PipelineTasks[T]['pipeline']> };

export const PIPELINE_TASKS: Loaders = {
  generate: loadTextGenerationPipeline,
  chat: loadChatPipeline,
  embed: encoderTaskNotAvailable('embed'),
  classify: encoderTaskNotAvailable('classify'),
};
