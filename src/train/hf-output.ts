// Writes a trained model as a Hugging Face folder that transformers loads with
// AutoModelForCausalLM.from_pretrained / AutoTokenizer.from_pretrained:
//   config.json (arch.toHfConfig), model.safetensors (float32, HF names, metadata format=pt,
//   which transformers requires), generation_config.json, tokenizer.json + tokenizer_config.json
//   (+ special_tokens_map.json when the source has one), copied from the training tokenizer.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ModelArch } from '../models/causal-lm.ts';
import type { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';
import { writeSafetensors } from '../formats/safetensors-writer.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { FloatArray } from './buffers.ts';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'chat_template.jinja'];

/** Copies the tokenizer files of `source` (a folder or a tokenizer file), or serialises `tok`. */
export function writeTokenizerFiles(dir: string, source: string | undefined, tok: HfTokenizer | undefined): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  if (source && existsSync(source)) {
    const isDir = statSync(source).isDirectory();
    const srcDir = isDir ? source : dirname(source);
    // From a single file: that file (when it has a standard name) and the configs beside it.
    const names = isDir ? TOKENIZER_FILES : TOKENIZER_FILES.filter((n) => n === basename(source) || !['tokenizer.json', 'tokenizer.model'].includes(n));
    for (const n of names) {
      if (!existsSync(join(srcDir, n))) continue;
      copyFileSync(join(srcDir, n), join(dir, n));
      written.push(n);
    }
  }
  if (!written.includes('tokenizer.json') && tok) {
    writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
    written.push('tokenizer.json');
  }
  if (!written.includes('tokenizer_config.json') && tok) {
    const cfg: Record<string, unknown> = { tokenizer_class: 'PreTrainedTokenizerFast', clean_up_tokenization_spaces: false, ...tok.config };
    const name = (id: number | undefined) => (id === undefined ? undefined : tok.idToToken(id));
    cfg.bos_token ??= name(tok.bosId) ?? null;
    cfg.eos_token ??= name(tok.eosId) ?? null;
    if (tok.padId !== undefined) cfg.pad_token ??= name(tok.padId);
    writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2) + '\n');
    written.push('tokenizer_config.json');
  }
  return written;
}

export interface HfModelToWrite<C> {
  arch: ModelArch<C>;
  config: C;
  /** Every model tensor by HF name (float32 or float64; written as float32). */
  weights: { name: string; shape: number[]; data: FloatArray }[];
  /** Special token ids for config.json / generation_config.json when the config has none. */
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

export async function writeHfModelFolder<C>(dir: string, m: HfModelToWrite<C>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const cfg = m.arch.toHfConfig(m.config);
  cfg.bos_token_id ??= m.bosTokenId ?? null;
  cfg.eos_token_id ??= m.eosTokenId ?? null;
  if (m.padTokenId !== undefined) cfg.pad_token_id ??= m.padTokenId;
  cfg.torch_dtype = 'float32';
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    m.weights.map((w) => ({ name: w.name, dtype: 'F32', shape: w.shape, data: w.data instanceof Float32Array ? w.data : Float32Array.from(w.data) })),
    { format: 'pt' },
  );
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  const gen: Record<string, unknown> = { _from_model_config: true, bos_token_id: cfg.bos_token_id, eos_token_id: cfg.eos_token_id };
  if (cfg.pad_token_id !== undefined && cfg.pad_token_id !== null) gen.pad_token_id = cfg.pad_token_id;
  if (typeof cfg.decoder_start_token_id === 'number') gen.decoder_start_token_id = cfg.decoder_start_token_id; // encoder-decoders (T5)
  writeFileAtomic(join(dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
}
