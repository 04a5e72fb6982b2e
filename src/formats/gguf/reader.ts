// GGUF files on a local disk: the parser (reader-core.ts) over a Node file handle.
import { RandomAccessFile } from '../file-reader.ts';
import { openGgufReader, type GgufFile, type GgufTensorInfo } from './reader-core.ts';
import type { GgufValue } from './types.ts';

export { openGgufReader, type GgufFile, type GgufTensorInfo } from './reader-core.ts';

export async function openGguf(path: string): Promise<GgufFile> {
  return openGgufReader(await RandomAccessFile.open(path));
}

/** Reads a GGUF header's metadata (no tensor data) and closes the file. */
export async function readGgufMetadata(path: string): Promise<{ metadata: Record<string, GgufValue>; tensors: GgufTensorInfo[] }> {
  const g = await openGguf(path);
  await g.close();
  return { metadata: g.metadata, tensors: [...g.tensors.values()] };
}
