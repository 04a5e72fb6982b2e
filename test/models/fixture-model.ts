// Writes tiny random-weight models to disk with slmkit's own writers: a Hugging Face
// folder (config.json + model.safetensors + a byte-level BPE tokenizer.json trained here)
// and the same weights as GGUF, for loader, llama.cpp and CLI tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe, WordCounter, tokenizerJsonText, tokenizerConfigJsonText } from '../../src/tokenizer-train/index.ts';
import { saveHfFolder, saveGguf, ggufTokenizerMetadata, type GgufWeightType } from '../../src/models/save.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { llama } from '../../src/models/llama.ts';
import { phi } from '../../src/models/phi.ts';
import type { CausalLMArch } from '../../src/models/causal-lm.ts';

const TEXT = `Once upon a time there was a little robot who liked to count the stars.
Every night the robot climbed the hill, looked up, and counted: one, two, three, four, five.
The moon laughed and said, "You will never finish!" But the robot smiled and kept counting.
Tokenizers split text into pieces; models predict the next piece. 12345 67890 !?.,;:
`;

/** A byte-level BPE tokenizer.json with exactly `vocabSize` entries (specials first). */
export function tinyTokenizerJson(vocabSize: number): { json: string; config: string } {
  const specials = ['<|endoftext|>', '<|pad|>'];
  const counter = new WordCounter(specials);
  for (let i = 0; i < 20; i++) counter.add(TEXT);
  const model = trainBpe(counter.counts, { vocabSize, minFrequency: 1, specialTokens: specials });
  return { json: tokenizerJsonText(model), config: tokenizerConfigJsonText(model, '<|endoftext|>') };
}

export const TINY_VOCAB = 320;

export function tinyHfConfig(kind: 'llama' | 'phi'): Record<string, unknown> {
  const common = { vocab_size: TINY_VOCAB, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 256, rope_theta: 10000, bos_token_id: 0, eos_token_id: 0 };
  return kind === 'llama'
    ? { ...common, model_type: 'llama', intermediate_size: 128, num_key_value_heads: 2, rms_norm_eps: 1e-5 }
    : { ...common, model_type: 'phi', intermediate_size: 128, layer_norm_eps: 1e-5, partial_rotary_factor: 0.5, hidden_act: 'gelu_new' };
}

export interface TinyModelFiles {
  dir: string;
  folder: string;
  gguf: (type: GgufWeightType) => Promise<string>;
  arch: CausalLMArch<any>;
  config: unknown;
}

export async function writeTinyModel(kind: 'llama' | 'phi', seed = 7, std = 0.3, hfOverrides: Record<string, unknown> = {}): Promise<TinyModelFiles> {
  const dir = mkdtempSync(join(tmpdir(), `slmkit-${kind}-`));
  const arch = (kind === 'llama' ? llama : phi) as CausalLMArch<any>;
  const config = arch.parseConfig({ ...tinyHfConfig(kind), ...hfOverrides });
  const store = randomWeights(listWeights(arch, config), seed, std);
  const tok = tinyTokenizerJson(TINY_VOCAB);
  const folder = join(dir, 'hf');
  await saveHfFolder(folder, { arch, config, store }, { files: { 'tokenizer.json': tok.json, 'tokenizer_config.json': tok.config } });
  return {
    dir,
    folder,
    arch,
    config,
    async gguf(type) {
      const file = join(dir, `model-${type}.gguf`);
      const meta = ggufTokenizerMetadata(JSON.parse(tok.json), { vocabSize: TINY_VOCAB, eos: 0, bos: 0 });
      await saveGguf(file, { arch, config, store }, { type, tokenizer: meta });
      return file;
    },
  };
}

export { writeFileSync };
