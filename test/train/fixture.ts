// Shared by the training tests: a small synthetic corpus (seeded, so every run sees the same
// text), a byte-level BPE tokenizer trained on it, and tiny architecture configs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpeFromFiles, writeTokenizerJson } from '../../src/tokenizer-train/index.ts';
import { Rng } from '../../src/util/rng.ts';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from '../../src/train/config.ts';
import type { TrainerOptions } from '../../src/train/trainer.ts';

const SUBJECTS = ['the cat', 'a dog', 'the old king', 'my friend', 'the river', 'a small bird'];
const VERBS = ['sees', 'likes', 'follows', 'finds', 'carries', 'remembers'];
const OBJECTS = ['the moon', 'a red ball', 'the green hill', 'some bread', 'the long road', 'a quiet song'];

/** Documents of a few simple sentences, separated by blank lines. */
export function corpusText(docs = 60, seed = 7): string {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let d = 0; d < docs; d++) {
    const n = 2 + rng.int(4);
    const s: string[] = [];
    for (let i = 0; i < n; i++) s.push(`${SUBJECTS[rng.int(SUBJECTS.length)]} ${VERBS[rng.int(VERBS.length)]} ${OBJECTS[rng.int(OBJECTS.length)]}.`);
    out.push(s.join(' '));
  }
  return out.join('\n\n') + '\n';
}

export interface Fixture {
  dir: string;
  dataFile: string;
  tokDir: string;
  vocabSize: number;
}

/** A temp folder with data.txt and tok/tokenizer.json (+ tokenizer_config.json). */
export async function makeFixture(prefix = 'slm-train-'): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const dataFile = join(dir, 'data.txt');
  writeFileSync(dataFile, corpusText());
  const tokDir = join(dir, 'tok');
  mkdirSync(tokDir);
  const r = await trainBpeFromFiles([dataFile], { vocabSize: 320, minFrequency: 2, specialTokens: ['<|endoftext|>'] });
  writeTokenizerJson(r.model, join(tokDir, 'tokenizer.json'));
  return { dir, dataFile, tokDir, vocabSize: r.model.vocab.length };
}

export const tinyLlamaInit = {
  model_type: 'llama',
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
};

export const tinyPhiInit = {
  model_type: 'phi',
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: 64,
  partial_rotary_factor: 0.5,
};

/** A from-scratch run config over the fixture (small and fast; override what a test needs). */
export function runConfig(f: Fixture, out: string, over: Partial<TrainConfigInput> = {}): TrainConfig {
  return parseTrainConfig({
    init: tinyLlamaInit,
    tokenizer: f.tokDir,
    data: f.dataFile,
    documentSeparator: '\n\n',
    tokenCacheDir: join(f.dir, 'token-cache'),
    onnxCacheDir: join(f.dir, 'onnx-cache'),
    out,
    steps: 6,
    batchSize: 2,
    seqLen: 16,
    lr: 3e-3,
    warmupSteps: 2,
    evalEvery: 3,
    evalBatches: 2,
    checkpointEvery: 2,
    keepCheckpoints: 10,
    heldOut: 0.1,
    threads: 1,
    progress: false,
    ...over,
  });
}

/**
 * Trainer options for the fixed-batch overfit tests: constant lr 1e-2, AdamW (0.9, 0.95),
 * clip 1, no eval/checkpoints, 1 thread, no ONNX cache. `over` supplies the model and data.
 */
export function overfitTrainerOptions<C>(over: Pick<TrainerOptions<C>, 'arch' | 'config' | 'store' | 'train' | 'batchSize' | 'seqLen' | 'steps'> & Partial<TrainerOptions<C>>, prefix = 'slm-trainer-'): TrainerOptions<C> {
  return {
    gradAccum: 1,
    dtype: 'float32',
    schedule: { kind: 'constant', lr: 1e-2, minLr: 0, warmupSteps: 0, decaySteps: over.steps },
    adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
    clipNorm: 1,
    evalEvery: 0,
    evalBatches: 1,
    checkpointEvery: 0,
    keepCheckpoints: 1,
    outDir: mkdtempSync(join(tmpdir(), prefix)),
    seed: 0,
    threads: 1,
    cacheDir: false,
    layout: { weightsFile: 'model.safetensors' },
    runConfig: { hash: 'test', config: {} },
    progress: false,
    ...over,
  };
}
