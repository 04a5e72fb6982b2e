// N sampled solutions per prompt from a local slmkit decoder (the generator), decoded in
// batches through generateBatch so one forward call serves every live sequence. Each sample has
// its own seed (seed + sample index), so results do not depend on the batch size. Generation
// stops at EOS or at the end of the function (a line that is not indented).
import type { CausalLM } from '../../models/load.ts';
import { codecFromTokenizer } from '../../generate/text-codec.ts';
import { generateBatch } from '../../generate/generate-batch.ts';
import { encodePrompt } from '../../generate/encode-prompt.ts';
import { programFromCompletion } from './program.ts';

export interface SampleOptions {
  n: number;
  /** 0: greedy (every sample is the same; n is then 1 in effect). */
  temperature: number;
  maxTokens?: number;
  seed?: number;
  /** Sequences decoded together. Default 16. */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Stops once the function is over: a new top-level line or a second docstring. */
export const SOLUTION_STOPS = ['\ndef ', '\nclass ', '\nprint', '\n"""', '\n\n\n'];

/** completions[i][k]: sample k for prompt i (the text after the prompt, function-trimmed). */
export async function sampleSolutions(lm: CausalLM, prompts: readonly string[], o: SampleOptions): Promise<string[][]> {
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const jobs: { i: number; k: number; ids: number[] }[] = [];
  const encoded = prompts.map((p) => encodePrompt(codec, p));
  for (let i = 0; i < prompts.length; i++) for (let k = 0; k < o.n; k++) jobs.push({ i, k, ids: encoded[i]! });
  const out = prompts.map(() => new Array<string>(o.n));
  const B = o.batch ?? 16;
  const session = lm.createSession();
  try {
    for (let s = 0; s < jobs.length; s += B) {
      const chunk = jobs.slice(s, s + B);
      const res = await generateBatch(session, codec, chunk.map((j) => j.ids), {
        maxTokens: o.maxTokens ?? 128,
        temperature: o.temperature,
        stop: SOLUTION_STOPS,
        logprobs: false,
        signal: o.signal,
        perSequence: chunk.map((j) => ({ seed: (o.seed ?? 0) * 1_000_003 + j.i * 1009 + j.k })),
      }).done();
      chunk.forEach((j, r) => {
        const prompt = prompts[j.i]!;
        // Keep only the function body the model wrote (programFromCompletion trims what follows).
        out[j.i]![j.k] = programFromCompletion(prompt, res[r]!.text).slice(prompt.length);
      });
      o.onProgress?.(Math.min(s + B, jobs.length), jobs.length);
    }
  } finally {
    await session.dispose();
  }
  return out;
}
