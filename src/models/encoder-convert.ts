// `slm convert` for encoders: a BERT checkpoint (HF or sentence-transformers folder) to a
// llama.cpp "bert" GGUF with its WordPiece vocabulary and pooling. Only the body and the pooling
// go into the file: llama.cpp's bert has no masked-LM or classifier heads of this form.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { encoderArch, openEncoderFiles } from './encoder-model.ts';
import { listEncoderTaskWeights } from './encoder-heads.ts';
import { bertTokenizerMetadata, saveBertGguf } from './bert-gguf.ts';
import { UnsupportedError } from '../errors.ts';

export async function convertEncoderToGguf(src: string, dst: string, type: 'F32' | 'F16' | 'Q8_0' | 'Q4_0', log: (m: string) => void = () => {}): Promise<void> {
  if (!dst.endsWith('.gguf')) throw new UnsupportedError(`${src}: encoders convert to GGUF only (give an output ending in .gguf)`);
  const opened = await openEncoderFiles(src);
  try {
    const file = `${src}/config.json`;
    const arch = encoderArch(opened.config.model_type, file);
    if (arch.modelType !== 'bert') throw new UnsupportedError(`${src}: llama.cpp has no GGUF form for ${arch.modelType}; only bert converts`);
    let config = arch.parseConfig(opened.config, file);
    if (!opened.store.shape(`${config.prefix}.embeddings.word_embeddings.weight`)) config = { ...config, prefix: '' };
    const weights = listEncoderTaskWeights(arch, config, { kind: 'embed', pooling: opened.pooling });
    const tj = join(src, 'tokenizer.json');
    let tokenizer;
    if (existsSync(tj)) tokenizer = bertTokenizerMetadata(JSON.parse(await readFile(tj, 'utf8')), config.vocabSize, { pad: config.padTokenId });
    else log('no tokenizer.json found; the GGUF has no vocabulary (llama.cpp will not load it)');
    if (config.task !== 'base') log(`the ${config.task} head is left out: llama.cpp's bert runs the encoder and its pooling only`);
    if (opened.pooling.normalize) log('the Normalize module is left out: llama.cpp callers normalise embeddings themselves');
    await saveBertGguf(dst, { config, store: opened.store, weights }, { type, pooling: opened.pooling, tokenizer });
  } finally {
    await opened.checkpoint.close();
  }
}
