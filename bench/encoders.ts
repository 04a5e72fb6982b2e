// Encoder benchmark (issue 11): embeddings/s of a MiniLM-L6-shaped BERT (6 layers, hidden 384,
// 12 heads, intermediate 1536, vocabulary 30522, random weights) at batch 32 × 128 tokens,
// slmkit (onnxruntime, one padded batch per call) against llama.cpp's embedding context
// (node-llama-cpp 3.21.1, one sequence per call, as its API takes them) on the same F32 GGUF,
// alternating round by round so both see the same machine load.
//   node --import tsx bench/encoders.ts [--rounds N] [--threads T]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bert } from '../src/models/bert.ts';
import type { EncoderConfig } from '../src/models/encoder-config.ts';
import type { MaskedLMArch } from '../src/models/roberta.ts';
import { listEncoderTaskWeights, type PoolingConfig } from '../src/models/encoder-heads.ts';
import { randomWeights } from '../src/nn/init-store.ts';
import { writeHfModelFolder } from '../src/train/hf-output.ts';
import { bertTokenizerMetadata, saveBertGguf } from '../src/models/bert-gguf.ts';
import { loadEncoder } from '../src/models/encoder-model.ts';
import { Rng } from '../src/util/rng.ts';

export interface EncoderBenchRow {
  engine: 'slmkit' | 'llama.cpp';
  threads: number;
  embeddingsPerSecond: number[];
}

const MINILM = { model_type: 'bert', architectures: ['BertModel'], vocab_size: 30522, hidden_size: 384, intermediate_size: 1536, num_hidden_layers: 6, num_attention_heads: 12, max_position_embeddings: 512, type_vocab_size: 2, pad_token_id: 0 };
const MEAN: PoolingConfig = { cls: false, mean: true, max: false, meanSqrtLen: false, normalize: false };

/** The MiniLM-shaped folder and its GGUF, written once into `dir`. */
async function benchModel(dir: string, log: (s: string) => void): Promise<{ folder: string; gguf: string }> {
  const folder = join(dir, 'minilm-l6-random');
  const gguf = join(dir, 'minilm-l6-random-f32.gguf');
  if (existsSync(join(folder, 'model.safetensors')) && existsSync(gguf)) return { folder, gguf };
  log(`writing the MiniLM-L6-shaped bench model to ${dir}`);
  const arch = bert as MaskedLMArch<EncoderConfig>;
  const config = arch.parseConfig(MINILM);
  const store = randomWeights(listEncoderTaskWeights(arch, config, { kind: 'embed', pooling: MEAN }), 1, 0.05);
  await writeHfModelFolder(folder, { arch, config, weights: [...store.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })) });
  const vocab: Record<string, number> = {};
  ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].forEach((t, i) => (vocab[t] = i));
  for (let i = 5; i < 30522; i++) vocab[i % 3 ? `w${i}` : `##w${i}`] = i;
  const tj = {
    version: '1.0',
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', cls: ['[CLS]', 2], sep: ['[SEP]', 3] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tj));
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'BertTokenizer', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }));
  await saveBertGguf(gguf, { config, store, weights: listEncoderTaskWeights(arch, config, { kind: 'embed', pooling: MEAN }) }, { type: 'F32', pooling: MEAN, tokenizer: bertTokenizerMetadata(tj, 30522, { pad: 0 }) });
  return { folder, gguf };
}

export async function runEncoderBench(o: { rounds?: number; threads?: number; batch?: number; seq?: number; dir?: string; log?: (s: string) => void } = {}): Promise<EncoderBenchRow[]> {
  const log = o.log ?? (() => {});
  const rounds = o.rounds ?? 3;
  const threads = o.threads ?? 2;
  const B = o.batch ?? 32;
  const S = o.seq ?? 128;
  const dir = o.dir ?? join(tmpdir(), 'slmkit-bench-encoders');
  mkdirSync(dir, { recursive: true });
  const { folder, gguf } = await benchModel(dir, log);
  const rng = new Rng('encoder-bench');
  const rows = Array.from({ length: B }, () => [2, ...Array.from({ length: S - 2 }, () => 5 + Math.floor(rng.next() * 30000)), 3]);
  const ours = await loadEncoder(folder, { threads, batchSize: B });
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  const model = await llama.loadModel({ modelPath: gguf });
  const ctx = await model.createEmbeddingContext({ contextSize: 2 * S, batchSize: 2 * S, threads });
  const slm: EncoderBenchRow = { engine: 'slmkit', threads, embeddingsPerSecond: [] };
  const cpp: EncoderBenchRow = { engine: 'llama.cpp', threads, embeddingsPerSecond: [] };
  try {
    await ours.embedIds(rows.slice(0, 2)); // build + warm up
    await ctx.getEmbeddingFor(rows[0] as never);
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      await ours.embedIds(rows);
      slm.embeddingsPerSecond.push(B / ((performance.now() - t0) / 1000));
      t0 = performance.now();
      for (const ids of rows) await ctx.getEmbeddingFor(ids as never);
      cpp.embeddingsPerSecond.push(B / ((performance.now() - t0) / 1000));
      log(`round ${r + 1}/${rounds}: slmkit ${slm.embeddingsPerSecond.at(-1)!.toFixed(1)} emb/s, llama.cpp ${cpp.embeddingsPerSecond.at(-1)!.toFixed(1)} emb/s`);
    }
  } finally {
    await ctx.dispose();
    await model.dispose();
    await ours.dispose();
  }
  return [slm, cpp];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The BENCHMARKS.md section. */
export function encoderSection(rows: EncoderBenchRow[]): string[] {
  const slm = rows.find((r) => r.engine === 'slmkit');
  const cpp = rows.find((r) => r.engine === 'llama.cpp');
  return [
    '',
    '## Encoder embeddings (MiniLM-L6 shape, batch 32 × 128 tokens, float32, mean pooling)',
    '',
    'slmkit: one padded batch per onnxruntime call (`bench/encoders.ts`); llama.cpp: node-llama-cpp\'s embedding context on the',
    'same F32 GGUF, one sequence per call. Rounds alternate between the two. Goal: slmkit ≥ 1.5× llama.cpp.',
    '',
    '| engine | threads | embeddings/s (median) | rounds |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.engine} | ${r.threads} | ${median(r.embeddingsPerSecond).toFixed(1)} | ${r.embeddingsPerSecond.map((x) => x.toFixed(1)).join(', ')} |`),
    ...(slm && cpp ? ['', `slmkit / llama.cpp: ${(median(slm.embeddingsPerSecond) / median(cpp.embeddingsPerSecond)).toFixed(2)}×`] : []),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const rows = await runEncoderBench({ rounds: arg('--rounds'), threads: arg('--threads'), log: (s) => process.stderr.write(s + '\n') });
  process.stdout.write(encoderSection(rows).join('\n') + '\n');
}
