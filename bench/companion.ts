// Issue 13's pair, measured before anything is trained: decode cost of candidate "companion"
// shapes (Llama, the default model's tokenizer, random weights — cost does not depend on the
// weights) against the default model's shape, and the cost per token of EFT up-scaling
// (companion + default-shaped fine-tuned and reference models, CombinedSession) against the
// companion alone. One process, one thread by default, the arms alternating run by run after
// a warm-up of each; medians of ms per generated token (greedy, a fixed prompt, no EOS).
//
//   node --import tsx bench/companion.ts [--repeats 5] [--tokens 64] [--threads 1] [--dtype f32]
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { llama } from '../src/models/llama.ts';
import { saveHfFolder } from '../src/models/save.ts';
import { listWeights, randomWeights } from '../src/nn/init-store.ts';
import { loadCausalLM, type CausalLM, type ModelDType } from '../src/models/load.ts';
import { CombinedSession } from '../src/methods/eft/index.ts';
import { generateText } from '../src/generate/generate.ts';
import { codecFromTokenizer } from '../src/generate/text-codec.ts';
import type { DecoderSession } from '../src/generate/types.ts';

const DEFAULT = fileURLToPath(new URL('../models/default', import.meta.url));
const SMALL = { hidden_size: 256, intermediate_size: 688, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 4 };
/** Candidate companion shapes (same vocabulary and context as the default model). */
export const COMPANION_SHAPES: Record<string, Record<string, number>> = {
  'h512-l8': { hidden_size: 512, intermediate_size: 1376, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4 },
  'h512-l12': { hidden_size: 512, intermediate_size: 1376, num_hidden_layers: 12, num_attention_heads: 8, num_key_value_heads: 4 },
  'h768-l12': { hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4 },
};

export interface CompanionRow {
  shape: string;
  params_m: number;
  ms_per_token: number;
  runs: number[];
  /** The default model's shape, timed in the same alternation as this shape. */
  small_ms: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function writeShape(dir: string, name: string, shape: Record<string, number>, seed: number): Promise<{ folder: string; params: number }> {
  const config = llama.parseConfig({
    model_type: 'llama', vocab_size: 4096, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, bos_token_id: 0, eos_token_id: 0, ...shape,
  });
  const specs = listWeights(llama as never, config);
  const store = randomWeights(specs, seed, 0.05);
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  await saveHfFolder(folder, { arch: llama as never, config, store }, {});
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(DEFAULT, f), join(folder, f));
  let params = 0;
  for (const shape of specs.values()) params += shape.reduce((a, b) => a * b, 1);
  return { folder, params };
}

async function msPerToken(make: () => DecoderSession, lm: CausalLM, prompt: number[], tokens: number): Promise<number> {
  const session = make();
  try {
    const r = await generateText(session, codecFromTokenizer(lm.tokenizer, lm.eosIds), prompt, { temperature: 0, maxTokens: tokens, stopTokenIds: [] });
    return 1000 / r.stats.generationTokensPerSecond;
  } finally {
    await session.dispose();
  }
}

export async function runCompanionBench(o: { repeats: number; tokens: number; threads: number; dtype?: ModelDType; shapes?: string[]; log: (s: string) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'slm-companion-'));
  const opts = { threads: o.threads, dtype: o.dtype, cacheDir: false as const, context: 512 };
  try {
    const small = await writeShape(dir, 'small', SMALL, 1);
    const ref = await writeShape(dir, 'ref', SMALL, 2);
    const smallLm = await loadCausalLM(small.folder, opts);
    const refLm = await loadCausalLM(ref.folder, opts);
    const prompt = smallLm.tokenizer.encode('Once upon a time, a little girl named Lily found a shiny red ball in the park. She');
    const shapes: CompanionRow[] = [];
    const eft: { shape: string; alone_ms: number; eft_ms: number; ratio: number; alone_runs: number[]; eft_runs: number[]; concurrent_ms: number; concurrent_runs: number[] }[] = [];
    const smallRuns: number[] = [];
    for (const name of o.shapes ?? Object.keys(COMPANION_SHAPES)) {
      const big = await writeShape(dir, name, COMPANION_SHAPES[name]!, 3);
      const bigLm = await loadCausalLM(big.folder, opts);
      o.log(`companion ${name}: ${(big.params / 1e6).toFixed(1)}M parameters`);
      const arms = {
        small: () => smallLm.createSession(),
        big: () => bigLm.createSession(),
        eft: () => new CombinedSession(bigLm.createSession(), [{ ft: smallLm.createSession(), ref: refLm.createSession(), weight: 1 }]),
        eftConcurrent: () => new CombinedSession(bigLm.createSession(), [{ ft: smallLm.createSession(), ref: refLm.createSession(), weight: 1 }], true),
      };
      const runs: Record<keyof typeof arms, number[]> = { small: [], big: [], eft: [], eftConcurrent: [] };
      for (const arm of Object.keys(arms) as (keyof typeof arms)[]) await msPerToken(arms[arm], bigLm, prompt, 8); // warm-up
      for (let r = 0; r < o.repeats; r++) {
        for (const arm of Object.keys(arms) as (keyof typeof arms)[]) runs[arm].push(await msPerToken(arms[arm], bigLm, prompt, o.tokens));
      }
      smallRuns.push(...runs.small);
      shapes.push({ shape: name, params_m: big.params / 1e6, ms_per_token: median(runs.big), runs: runs.big, small_ms: median(runs.small) });
      eft.push({ shape: name, alone_ms: median(runs.big), eft_ms: median(runs.eft), ratio: median(runs.eft) / median(runs.big), alone_runs: runs.big, eft_runs: runs.eft, concurrent_ms: median(runs.eftConcurrent), concurrent_runs: runs.eftConcurrent });
      o.log(`  small ${median(runs.small).toFixed(2)} ms, ${name} ${median(runs.big).toFixed(2)} ms (${(median(runs.big) / median(runs.small)).toFixed(2)}x), EFT ${median(runs.eft).toFixed(2)} ms, concurrent ${median(runs.eftConcurrent).toFixed(2)} ms`);
      await bigLm.dispose();
    }
    await smallLm.dispose();
    await refLm.dispose();
    return { small_params_m: small.params / 1e6, small_ms: median(smallRuns), small_runs: smallRuns, shapes, eft };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function companionMarkdown(r: Awaited<ReturnType<typeof runCompanionBench>>, o: { threads: number; dtype?: string; tokens: number; repeats: number; load: number[]; date: string }): string {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    `### Companion shapes and EFT cost (issue 13), random weights, ${o.threads} thread(s), dtype ${o.dtype ?? 'default (f32 below 100M)'}`,
    '',
    `\`node --import tsx bench/companion.ts\`, ${o.date}, load average ${o.load.map((x) => x.toFixed(2)).join(' / ')} at start. Greedy, ${o.tokens} tokens after a`,
    `20-token prompt; arms alternate run by run (${o.repeats} runs each after a warm-up), medians of ms per generated token. The`,
    `small model is the default model's shape (${f(r.small_params_m)}M parameters), timed in each shape's alternation; "×" is against that.`,
    '',
    '| companion shape | parameters | default-shape ms/token | ms/token alone (runs) | × default-shape step | EFT (companion + 2 small), sequential: ms/token (runs) | × alone | EFT, concurrent calls: ms/token (runs) | × alone |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [i, s] of r.shapes.entries()) {
    const e = r.eft[i]!;
    lines.push(`| ${s.shape} | ${s.params_m.toFixed(1)}M | ${f(s.small_ms)} | ${f(s.ms_per_token)} (${s.runs.map(f).join(', ')}) | ${f(s.ms_per_token / s.small_ms)} | ${f(e.eft_ms)} (${e.eft_runs.map(f).join(', ')}) | ${f(e.ratio)} | ${f(e.concurrent_ms)} (${e.concurrent_runs.map(f).join(', ')}) | ${f(e.concurrent_ms / s.ms_per_token)} |`);
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { repeats: { type: 'string' }, tokens: { type: 'string' }, threads: { type: 'string' }, dtype: { type: 'string' }, shapes: { type: 'string' } } });
  const load = loadavg();
  const o = { repeats: Number(values.repeats ?? 5), tokens: Number(values.tokens ?? 64), threads: Number(values.threads ?? 1), dtype: values.dtype as ModelDType | undefined };
  const r = await runCompanionBench({ ...o, shapes: values.shapes?.split(','), log: (s) => process.stderr.write(s + '\n') });
  process.stdout.write(companionMarkdown(r, { ...o, load, date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC' }));
}
