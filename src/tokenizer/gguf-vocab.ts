// Builds a tokenizer from the vocabulary metadata of a local GGUF file (`tokenizer.ggml.*`).
// Only the metadata is read (via @huggingface/gguf, which reads local files in ranges and
// caps array lengths), never tensor data; the full GGUF reader lives in src/formats/gguf/.
// The conversion itself is in gguf-vocab-core.ts (shared with the web build).
import { gguf } from '@huggingface/gguf';
import { FormatError } from '../errors.ts';
import type { TokenizerSource } from './hf-tokenizer.ts';
import { tokenizerSourceFromGgufMetadata } from './gguf-vocab-core.ts';

export { tokenizerSourceFromGgufMetadata } from './gguf-vocab-core.ts';

type Metadata = Record<string, unknown>;

export async function readGgufMetadata(path: string): Promise<Metadata> {
  try {
    const { metadata } = await gguf(path, { allowLocalFile: true });
    return metadata as unknown as Metadata;
  } catch (e) {
    throw new FormatError(path, 'header', `cannot read GGUF metadata: ${(e as Error).message}`, { cause: e });
  }
}

export async function ggufTokenizerSource(path: string): Promise<TokenizerSource> {
  return tokenizerSourceFromGgufMetadata(await readGgufMetadata(path), path);
}
