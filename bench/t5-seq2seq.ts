// A tiny T5 learns a seq2seq task from scratch: reversing lists of 2-5 words drawn from 16.
// `nice -n 10 npx tsx bench/t5-seq2seq.ts [--steps N] [--out DIR] [--threads N]` writes the data
// (JSONL input/target pairs) and a word-level SentencePiece-Unigram tokenizer, trains with
// `slm train`'s library entry (objective seq2seq, the same run.json the CLI reads), then decodes
// every held-out input greedily and prints the exact-match rate as one JSON line.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { runTraining } from '../src/train/run.ts';
import { parseTrainConfig } from '../src/train/config.ts';
import { loadSeq2SeqLM } from '../src/models/t5-load.ts';
import { text2text } from '../src/models/t5-generate.ts';
import { Rng } from '../src/util/rng.ts';
import { T5_TOKENIZER_CONFIG_JSON, wordUnigramTokenizerJson } from '../src/tokenizer-train/word-unigram.ts';

const WORDS = ['apple', 'river', 'stone', 'cloud', 'tiger', 'lemon', 'piano', 'glass', 'ocean', 'candle', 'forest', 'rocket', 'pepper', 'silver', 'garden', 'window'];

export function reversalPairs(n: number, seed: number): { input: string; target: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const len = 2 + rng.int(4);
    const words = Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)]!);
    return { input: words.join(' '), target: [...words].reverse().join(' ') };
  });
}

const { values } = parseArgs({ options: { steps: { type: 'string', default: '1500' }, out: { type: 'string' }, threads: { type: 'string', default: '1' } } });
const dir = values.out ?? join(tmpdir(), `slmkit-t5-reverse-${Date.now()}`);
mkdirSync(join(dir, 'tok'), { recursive: true });
writeFileSync(join(dir, 'tok', 'tokenizer.json'), wordUnigramTokenizerJson(WORDS));
writeFileSync(join(dir, 'tok', 'tokenizer_config.json'), T5_TOKENIZER_CONFIG_JSON);
const pairs = reversalPairs(6000, 1);
writeFileSync(join(dir, 'train.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');

const runJson = {
  init: { model_type: 't5', vocab_size: 32, d_model: 64, d_kv: 16, num_heads: 4, d_ff: 128, num_layers: 2, num_decoder_layers: 2, relative_attention_num_buckets: 16, relative_attention_max_distance: 32, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false },
  tokenizer: join(dir, 'tok'),
  data: join(dir, 'train.jsonl'),
  objective: 'seq2seq',
  heldOut: 200,
  out: join(dir, 'model'),
  seqLen: 12,
  batchSize: 32,
  steps: Number(values.steps),
  lr: 3e-3,
  warmupSteps: 50,
  weightDecay: 0.01,
  initStd: 0.1,
  evalEvery: 250,
  evalBatches: 4,
  checkpointEvery: 0,
  threads: Number(values.threads),
  progress: false,
};
writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson, null, 2));
const t0 = performance.now();
const r = await runTraining(parseTrainConfig(runJson), { log: (m) => process.stderr.write(`${m}\n`) });
const trainSeconds = (performance.now() - t0) / 1000;

// Exact match on the held-out pairs: the same split the trainer held out (seeded by heldOut/seed).
const { splitDocuments } = await import('../src/data/split.ts');
const split = splitDocuments(pairs.length, runJson.heldOut, 0);
const lm = await loadSeq2SeqLM(join(dir, 'model'), { cacheDir: false, threads: Number(values.threads) });
let exact = 0;
const held = Array.from(split.heldOut, (i) => pairs[i]!);
for (const p of held) {
  const out = await text2text(lm, p.input, { temperature: 0, maxTokens: 8 });
  if (out.text.trim() === p.target) exact++;
}
await lm.dispose();
console.log(JSON.stringify({ task: 'reverse 2-5 words of 16', steps: runJson.steps, finalLoss: r.losses.at(-1), trainSeconds: Number(trainSeconds.toFixed(1)), heldOut: held.length, exactMatch: exact / held.length, dir }));
