// `slm bench <model>`: decode speed of a model on this machine. A fixed pseudo-random prompt
// (no tokenizer involved) is prefilled in one forward, then tokens are decoded greedily one
// at a time; ttft is the prefill's wall time (first logits), decode tok/s excludes it.
// Peak RSS is the process's high-water mark (VmHWM), so run one model per process.
import { readFileSync } from 'node:fs';
import type { Command } from '../command.ts';
import { PULL_OPTION, resolveModelArgument } from '../resolve-model.ts';
import { benchSpeculative } from '../bench-speculative.ts';
import { loadCausalLM, type ModelDType } from '../../models/load.ts';
import { SlmError, throwIfAborted } from '../../errors.ts';
import type { DecoderSession } from '../../generate/types.ts';

export interface DecoderBenchResult {
  /** Warm: the second full request (prefill + decode) after load, as a server's users see it. */
  prefill_tok_s: number;
  decode_tok_s: number;
  ttft_ms: number;
  /** The first request after load (weights and caches still being touched for the first time). */
  cold_prefill_tok_s: number;
  cold_decode_tok_s: number;
  cold_ttft_ms: number;
  load_s: number;
  peak_rss_mb: number;
}

/** Peak resident set of this process in MB (VmHWM; falls back to the current RSS). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss / 2 ** 20;
}

/** One request: greedy decode after a prompt prefill. */
async function timedPass(session: DecoderSession, prompt: number[], genTokens: number, v: number, signal?: AbortSignal) {
  const t1 = performance.now();
  let [[logits]] = (await session.forward([prompt])) as [[Float32Array]];
  const ttft = performance.now() - t1;
  const t2 = performance.now();
  for (let i = 0; i < genTokens; i++) {
    throwIfAborted(signal);
    let best = 0;
    for (let j = 1; j < v; j++) if (logits[j]! > logits[best]!) best = j;
    [[logits]] = (await session.forward([[best]])) as [[Float32Array]];
  }
  const decodeS = (performance.now() - t2) / 1000;
  session.truncate(0, 0);
  return { prefill_tok_s: prompt.length / (ttft / 1000), decode_tok_s: genTokens / decodeS, ttft_ms: ttft };
}

/**
 * Load, then two identical requests: the first is reported as cold, the second as the headline
 * (warm) figures. Comparing engines warm is what the decode table does: llama.cpp maps its
 * weights and faults them in during its first request, slmkit prepacks them at load.
 */
export async function benchDecoder(
  path: string,
  o: { promptTokens: number; genTokens: number; threads?: number; dtype?: ModelDType; cacheDir?: string | false; signal?: AbortSignal },
): Promise<DecoderBenchResult> {
  const t0 = performance.now();
  const model = await loadCausalLM(path, { dtype: o.dtype, threads: o.threads, cacheDir: o.cacheDir, context: o.promptTokens + o.genTokens, signal: o.signal });
  const session = model.createSession();
  const loadS = (performance.now() - t0) / 1000;
  const v = model.vocabSize;
  const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7919 + 13) % v);
  const cold = await timedPass(session, prompt, o.genTokens, v, o.signal);
  const warm = await timedPass(session, prompt, o.genTokens, v, o.signal);
  await session.dispose();
  await model.dispose();
  return {
    ...warm,
    cold_prefill_tok_s: cold.prefill_tok_s,
    cold_decode_tok_s: cold.decode_tok_s,
    cold_ttft_ms: cold.ttft_ms,
    load_s: loadS,
    peak_rss_mb: peakRssMb(),
  };
}

function positiveInt(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a positive integer, got ${v}`);
  return n;
}

const command: Command = {
  name: 'bench',
  summary: 'measure prefill and decode speed, time to first token, load time and peak memory',
  usage: '[model] [--prompt-tokens N] [--gen-tokens N] [--threads T] [--dtype f32|f16|q8|q4] [--json]',
  options: {
    ...PULL_OPTION,
    'prompt-tokens': { type: 'string', valueName: 'N', description: 'prompt length (default 256)' },
    'gen-tokens': { type: 'string', valueName: 'N', description: 'tokens to decode (default 128)' },
    threads: { type: 'string', valueName: 'T', description: 'onnxruntime threads (default: one per core)' },
    dtype: { type: 'string', valueName: 'D', description: 'weights at run time: f32, f16, q8, q4 (default by size)' },
    'no-cache': { type: 'boolean', description: 'do not use the built-model cache' },
    draft: { type: 'string', valueName: 'model', description: 'instead: greedy tok/s with this draft model (speculative decoding) vs without, alternating' },
    lookup: { type: 'boolean', description: 'instead: greedy tok/s with prompt-lookup decoding vs without' },
    prompt: { type: 'string', valueName: 'text', description: 'with --draft/--lookup: the prompt (default: a short story opening)' },
    repeats: { type: 'string', valueName: 'N', description: 'with --draft/--lookup: timed runs of each (default 3, after one warm-up)' },
    json: { type: 'boolean', description: 'print {prefill_tok_s, decode_tok_s, ttft_ms (warm: 2nd request), cold_prefill_tok_s, cold_decode_tok_s, cold_ttft_ms (1st request), load_s, peak_rss_mb}' },
  },
  async run({ values, positionals }, io) {
    // No model: the default model, as every command that takes one (resolve-model.ts).
    const { model, rest } = await resolveModelArgument(positionals, { textAllowed: false, pull: !!values.pull, signal: io.signal });
    if (rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'slm bench takes at most one positional: the model');
    const dtype = values.dtype as string | undefined;
    if (dtype !== undefined && !['f32', 'f16', 'q8', 'q4'].includes(dtype)) throw new SlmError('INVALID_ARGUMENT', `--dtype must be f32, f16, q8 or q4 (got ${dtype})`);
    if (values.draft !== undefined || values.lookup) {
      const draft = values.draft === undefined ? undefined : (await resolveModelArgument([values.draft as string], { textAllowed: false })).model;
      const sr = await benchSpeculative(model, {
        draft,
        lookup: !!values.lookup,
        prompt: (values.prompt as string | undefined) ?? 'Once upon a time, there was a little girl named Lily. She loved to play outside.',
        genTokens: positiveInt(values['gen-tokens'], 'gen-tokens', 128),
        repeats: positiveInt(values.repeats, 'repeats', 3),
        load: { dtype: dtype as ModelDType | undefined, threads: values.threads === undefined ? undefined : positiveInt(values.threads, 'threads', 1), cacheDir: values['no-cache'] ? false : undefined, signal: io.signal },
        signal: io.signal,
      });
      if (values.json) io.stdout.write(JSON.stringify(sr) + '\n');
      else {
        io.stdout.write(
          `plain        ${sr.plain_tok_s.toFixed(1)} tok/s\nspeculative  ${sr.speculative_tok_s.toFixed(1)} tok/s (${sr.speedup.toFixed(2)}x)\n` +
            `acceptance   ${(sr.acceptance_rate * 100).toFixed(1)}%, ${sr.tokens_per_target_step.toFixed(2)} tokens per target step; output ${sr.identical_output ? 'identical' : 'DIFFERENT'}\n`,
        );
      }
      return 0;
    }
    const r = await benchDecoder(model, {
      promptTokens: positiveInt(values['prompt-tokens'], 'prompt-tokens', 256),
      genTokens: positiveInt(values['gen-tokens'], 'gen-tokens', 128),
      threads: values.threads === undefined ? undefined : positiveInt(values.threads, 'threads', 1),
      dtype: dtype as ModelDType | undefined,
      cacheDir: values['no-cache'] ? false : undefined,
      signal: io.signal,
    });
    if (values.json) io.stdout.write(JSON.stringify(r) + '\n');
    else {
      io.stdout.write(
        `prefill  ${r.prefill_tok_s.toFixed(1)} tok/s (first request ${r.cold_prefill_tok_s.toFixed(1)})\ndecode   ${r.decode_tok_s.toFixed(1)} tok/s (first request ${r.cold_decode_tok_s.toFixed(1)})\n` +
          `ttft     ${r.ttft_ms.toFixed(0)} ms (first request ${r.cold_ttft_ms.toFixed(0)})\n` +
          `load     ${r.load_s.toFixed(2)} s\npeak RSS ${r.peak_rss_mb.toFixed(0)} MB\n`,
      );
    }
    return 0;
  },
};

export default command;
