// Which checkpoint format a file is, from its first bytes (not its name): GGUF ("GGUF"),
// PyTorch zip ("PK\3\4"), safetensors (u64 header length, then "{"). One message for a file that
// is none of them, so `slm generate` and `slm inspect` say the same thing, naming the file and
// what it starts with, instead of a reader's header-length complaint.
import { open } from 'node:fs/promises';
import { SlmError } from '../errors.ts';

export type SniffedFormat = 'gguf' | 'safetensors' | 'pytorch';

export async function sniffCheckpointFile(path: string): Promise<{ format: SniffedFormat | undefined; head: Uint8Array }> {
  const fh = await open(path, 'r').catch((e) => {
    throw new SlmError('NOT_FOUND', `cannot read ${path}: ${(e as Error).message}`);
  });
  try {
    const head = new Uint8Array(9);
    const { bytesRead } = await fh.read(head, 0, 9, 0);
    const b = head.subarray(0, bytesRead);
    const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
    if (ascii(0, 4) === 'GGUF') return { format: 'gguf', head: b };
    if (ascii(0, 4) === 'PK\x03\x04') return { format: 'pytorch', head: b };
    if (bytesRead === 9 && ascii(8, 9) === '{') return { format: 'safetensors', head: b };
    return { format: undefined, head: b };
  } finally {
    await fh.close();
  }
}

/** The error for a file that is not a model: the same words wherever a model file is expected. */
export function notAModelFileError(path: string, head: Uint8Array): SlmError {
  const hex = Array.from(head.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return new SlmError(
    'INVALID_ARGUMENT',
    `${path} is not a model file: it is none of GGUF, safetensors or PyTorch (it starts with bytes ${hex || '(empty file)'}). ` +
      'A model is a Hugging Face folder (config.json + weights + tokenizer files) or a .gguf file.',
  );
}
