// `slm convert <in> <out> [--dtype f32|f16|q8|q4]`: Hugging Face folder <-> GGUF.
//   <out> ending in .gguf: GGUF with 2-D weights in F32/F16/Q8_0/Q4_0 (q8 -> Q8_0, q4 -> Q4_0)
//                          and the tokenizer as llama.cpp metadata (byte-level BPE only).
//   otherwise:             HF folder: float32 model.safetensors, config.json and tokenizer
//                          files (from a GGUF: tokenizer.json built from its vocabulary).
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { resolveModelArgument } from '../resolve-model.ts';
import { openModelWeights } from '../../models/load.ts';
import { isT5Model } from '../../models/t5-load.ts';
import { convertT5 } from './convert-t5.ts';
import { ggufTokenizerMetadata, readTokenizerFiles, saveGguf, saveHfFolder, type GgufWeightType } from '../../models/save.ts';
import { ggufTokenizerSource } from '../../tokenizer/gguf-vocab.ts';
import { SlmError } from '../../errors.ts';
import { isEncoderModel } from '../../server/encoder-served.ts';
import { convertEncoderToGguf } from '../../models/encoder-convert.ts';

const GGUF_TYPE: Record<string, GgufWeightType> = { f32: 'F32', f16: 'F16', q8: 'Q8_0', q4: 'Q4_0' };

const command: Command = {
  name: 'convert',
  summary: 'convert a model between a Hugging Face folder and GGUF',
  usage: '<in> <out> [--dtype f32|f16|q8|q4]',
  options: {
    dtype: { type: 'string', valueName: 'f32|f16|q8|q4', description: 'GGUF weight type (q8 -> Q8_0, q4 -> Q4_0; default f32); HF output is always float32' },
    json: { type: 'boolean', description: 'print a JSON summary' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 2) {
      io.stderr.write('slm convert: expected <in> <out>\n');
      return 2;
    }
    const [given, dst] = positionals as [string, string];
    const src = (await resolveModelArgument([given], { textAllowed: false })).model;
    const dtype = (values.dtype as string | undefined) ?? 'f32';
    const type = GGUF_TYPE[dtype];
    if (!type) throw new SlmError('INVALID_ARGUMENT', `--dtype must be one of f32, f16, q8, q4 (got ${dtype})`);
    const toGguf = dst.endsWith('.gguf');
    if (!toGguf && values.dtype !== undefined && dtype !== 'f32') throw new SlmError('INVALID_ARGUMENT', 'a Hugging Face folder is written as float32; --dtype applies to GGUF output');
    const t0 = performance.now();
    if (await isT5Model(src)) return convertT5(src, dst, type, { json: !!values.json, t0 }, io); // encoder-decoders
    if (await isEncoderModel(src)) {
      await convertEncoderToGguf(src, dst, type, (m) => io.stderr.write(`slm convert: ${m}\n`));
      io.stderr.write(`wrote ${dst} (GGUF ${type})\n`);
      return 0;
    }
    const m = await openModelWeights(src);
    try {
      const hf = m.arch.toHfConfig(m.config);
      const isGgufIn = !statSync(src).isDirectory();
      if (toGguf) {
        let tokenizer;
        const tj = join(m.tokenizerPath, 'tokenizer.json');
        if (isGgufIn) tokenizer = (await ggufTokenizerSource(src)).json;
        else if (existsSync(tj)) tokenizer = JSON.parse(await readFile(tj, 'utf8'));
        // The chat template travels with the vocabulary (tokenizer.chat_template), as llama.cpp's converter writes it.
        const tc = join(m.tokenizerPath, 'tokenizer_config.json');
        const chatTemplate = !isGgufIn && existsSync(tc) ? (JSON.parse(await readFile(tc, 'utf8')) as { chat_template?: unknown }).chat_template : undefined;
        const meta = tokenizer
          ? ggufTokenizerMetadata(tokenizer, {
              vocabSize: hf.vocab_size as number,
              bos: (hf.bos_token_id as number | null) ?? undefined,
              eos: firstId(hf.eos_token_id),
              chatTemplate: typeof chatTemplate === 'string' ? chatTemplate : undefined,
            })
          : undefined;
        if (!meta) io.stderr.write('slm convert: no tokenizer.json found; the GGUF has no vocabulary\n');
        await saveGguf(dst, m, { type, tokenizer: meta });
      } else {
        const files: Record<string, string | Uint8Array> = isGgufIn
          ? { 'tokenizer.json': JSON.stringify((await ggufTokenizerSource(src)).json) }
          : await readTokenizerFiles(src);
        await saveHfFolder(dst, m, { files, generationConfig: Object.keys(m.generationConfig).length ? m.generationConfig : undefined });
      }
    } finally {
      await m.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (values.json) io.stdout.write(JSON.stringify({ input: src, output: dst, format: toGguf ? 'gguf' : 'hf', dtype: toGguf ? type : 'F32', seconds }) + '\n');
    else io.stderr.write(`wrote ${dst} (${toGguf ? `GGUF ${type}` : 'HF folder, float32'}) in ${seconds.toFixed(1)} s\n`);
    return 0;
  },
};

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

export default command;
