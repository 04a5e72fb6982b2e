// The generation-job runner behind `slm math generate` (and `slm data generate`): prompts JSONL
// → completions JSONL, over a Redis queue with --queue or in-process otherwise.
import { readPrompts, runGenerationLocal, runGenerationQueued, type GenerationParams } from '../queue/index.ts';
import type { CommandIO, OptionSpec } from './command.ts';
import { TEACHER_OPTIONS, completerFromOptions } from './teacher-options.ts';

export const GENERATION_JOB_OPTIONS: Record<string, OptionSpec> = {
  prompts: { type: 'string', valueName: 'file', description: 'input JSONL: {"id", "prompt", ...extra fields kept}' },
  out: { type: 'string', valueName: 'file', description: 'output JSONL: input fields + "completions": [...]' },
  queue: { type: 'string', valueName: 'url', description: 'redis://HOST:PORT: enqueue for `slm worker`s instead of running here' },
  'queue-name': { type: 'string', description: 'BullMQ queue name (default slm-generate)' },
  'chunk-size': { type: 'string', description: 'prompts per job (default 16)' },
  concurrency: { type: 'string', description: 'in-process: chunks at the same time (default 2)' },
  samples: { type: 'string', description: 'completions per prompt (default 1)' },
  temperature: { type: 'string', description: 'sampling temperature (default 0)' },
  'max-tokens': { type: 'string', description: 'max new tokens (default 256)' },
  stop: { type: 'string', multiple: true, description: 'stop string (repeatable)' },
  ...TEACHER_OPTIONS,
};

export async function runGenerationJob(values: Record<string, unknown>, io: CommandIO, label: string): Promise<number> {
  if (!values.prompts || !values.out) {
    io.stderr.write(`${label}: --prompts <file> and --out <file> are required\n`);
    return 2;
  }
  const prompts = readPrompts(values.prompts as string);
  const params: GenerationParams = {
    n: values.samples ? Number(values.samples) : 1,
    temperature: values.temperature ? Number(values.temperature) : 0,
    maxTokens: values['max-tokens'] ? Number(values['max-tokens']) : 256,
    ...(values.stop ? { stop: values.stop as string[] } : {}),
  };
  const chunkSize = values['chunk-size'] ? Number(values['chunk-size']) : 16;
  const tty = (io.stderr as NodeJS.WriteStream).isTTY;
  const onProgress = (d: number, t: number) => {
    if (tty) io.stderr.write(`\r${label}: ${d}/${t} chunks`);
  };
  const outPath = values.out as string;
  const r = values.queue
    ? await runGenerationQueued({ queueUrl: values.queue as string, queueName: values['queue-name'] as string | undefined, prompts, outPath, params, chunkSize, signal: io.signal, onProgress })
    : await runGenerationLocal({ prompts, outPath, params, chunkSize, completer: completerFromOptions(values), concurrency: values.concurrency ? Number(values.concurrency) : undefined, signal: io.signal, onProgress });
  if (tty) io.stderr.write('\n');
  io.stderr.write(`${label}: wrote ${r.records} records (${r.chunks} chunks, ${r.resumed} from an earlier run) to ${outPath}\n`);
  if (values.json) io.stdout.write(JSON.stringify({ out: outPath, ...r }) + '\n');
  return 0;
}
