// Shared by the eval tests: run tasks from a folder of YAMLs on a model, no cache, few bootstrap
// iterations (stderr values are not what these tests check).
import { runEval, type EvalModel } from '../../src/eval/index.ts';
export { LocalDecoderModel } from '../../src/eval/backends/local.ts';
export { EndpointModel } from '../../src/eval/backends/openai.ts';

export function runEvalForTest(tasks: string[], model: EvalModel, dir: string, extra: Partial<Parameters<typeof runEval>[0]> = {}) {
  return runEval({ tasks, model, includePaths: [dir], dataDirs: [], bootstrapIters: 100, logSamples: true, ...extra });
}
