// `slm convert` for T5 models: a Hugging Face folder <-> a llama.cpp `t5` GGUF (names and
// metadata in src/models/t5-gguf.ts; the SentencePiece-Unigram vocabulary as `tokenizer.ggml.*`).
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandIO } from '../command.ts';
import { openT5Weights } from '../../models/t5-load.ts';
import { saveT5Gguf, t5GgufTokenizerMetadata, type T5GgufWeightType } from '../../models/t5-gguf.ts';
import { readTokenizerFiles, saveHfFolder } from '../../models/save.ts';
import { ggufTokenizerSource } from '../../tokenizer/gguf-vocab.ts';
import { t5 } from '../../models/t5.ts';

/** Converts and prints the same summary as the decoder path (stdout JSON with --json, else a stderr line). */
export async function convertT5(src: string, dst: string, type: T5GgufWeightType, o: { json: boolean; t0: number }, io: CommandIO): Promise<number> {
  const m = await openT5Weights(src);
  try {
    const isGgufIn = !statSync(src).isDirectory();
    if (dst.endsWith('.gguf')) {
      const tj = join(m.tokenizerPath, 'tokenizer.json');
      const tokJson = isGgufIn ? (await ggufTokenizerSource(src)).json : existsSync(tj) ? JSON.parse(await readFile(tj, 'utf8')) : undefined;
      const eos = Array.isArray(m.config.eosTokenId) ? m.config.eosTokenId[0]! : m.config.eosTokenId;
      const tokenizer = tokJson ? t5GgufTokenizerMetadata(tokJson, m.config.vocabSize, { eos, pad: m.config.padTokenId }) : undefined;
      if (!tokenizer) io.stderr.write('slm convert: no tokenizer.json found; the GGUF has no vocabulary\n');
      await saveT5Gguf(dst, m, { type, tokenizer });
    } else {
      let files: Record<string, string | Uint8Array>;
      if (isGgufIn) {
        // tokenizer_config.json carries add_eos_token: T5 inputs end with the </s> it appends.
        // It also names the special tokens (a folder tokenizer knows them by name, not id).
        const t = await ggufTokenizerSource(src);
        const config: Record<string, unknown> = { ...t.config, tokenizer_class: 'T5Tokenizer' };
        const vocab = (t.json.model as { vocab?: [string, number][] }).vocab;
        for (const [key, id] of [['eos_token', t.specialIds?.eos], ['pad_token', t.specialIds?.pad], ['unk_token', t.specialIds?.unk]] as const) {
          const piece = id === undefined ? undefined : vocab?.[id]?.[0];
          if (piece !== undefined) config[key] = piece;
        }
        files = { 'tokenizer.json': JSON.stringify(t.json), 'tokenizer_config.json': JSON.stringify(config) };
      } else files = await readTokenizerFiles(src);
      await saveHfFolder(dst, { arch: t5, config: m.config, store: m.store }, { files, generationConfig: Object.keys(m.generationConfig).length ? m.generationConfig : undefined });
    }
  } finally {
    await m.close();
  }
  const seconds = (performance.now() - o.t0) / 1000;
  const toGguf = dst.endsWith('.gguf');
  if (o.json) io.stdout.write(JSON.stringify({ input: src, output: dst, format: toGguf ? 'gguf' : 'hf', dtype: toGguf ? type : 'F32', seconds, model_type: 't5' }) + '\n');
  else io.stderr.write(`wrote ${dst} (T5, ${toGguf ? `GGUF ${type}` : 'HF folder, float32'}) in ${seconds.toFixed(1)} s\n`);
  return 0;
}
