// safetensors reader: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {k: v}}, then raw
// little-endian tensor bytes (offsets relative to the end of the header). Only the header
// is read on open; each tensor is read on demand at its offset.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { FormatError, SlmError } from '../errors.ts';
import { RandomAccessFile } from './file-reader.ts';
import { MAX_SAFETENSORS_HEADER, makeCheckpoint, openSafetensorsReader, parseHeader, type SafetensorsFile, type SafetensorsTensorInfo } from './safetensors-core.ts';

export { MAX_SAFETENSORS_HEADER, openSafetensorsReader, type SafetensorsFile, type SafetensorsTensorInfo } from './safetensors-core.ts';

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  return openSafetensorsReader(await RandomAccessFile.open(path));
}

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** Opens a sharded checkpoint from its `*.safetensors.index.json` (weight_map: tensor name -> shard file). */
export async function openSafetensorsIndex(indexPath: string): Promise<SafetensorsFile> {
  const st = await stat(indexPath).catch(() => undefined);
  if (!st?.isFile()) throw new SlmError('NOT_FOUND', `no index file at ${indexPath}`);
  if (st.size > MAX_SAFETENSORS_HEADER) throw new FormatError(indexPath, undefined, `index file is ${st.size} bytes; too large`);
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new FormatError(indexPath, undefined, `not valid JSON: ${(e as Error).message}`);
  }
  const weightMap = (index as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError(indexPath, 'weight_map', 'missing or not an object');
  }
  const dir = dirname(indexPath);
  const shardNames = new Set<string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    // Shards must be plain file names beside the index: never let an index point elsewhere.
    if (typeof shard !== 'string' || shard !== basename(shard) || isAbsolute(shard) || shard === '..' || shard === '.') {
      throw new FormatError(indexPath, `weight_map.${name}`, `shard must be a file name in the same folder, got ${JSON.stringify(shard)}`);
    }
    shardNames.add(shard);
  }
  const handles = new Map<string, RandomAccessFile>();
  const tensors = new Map<string, SafetensorsTensorInfo>();
  const metadata: Record<string, string> = {};
  try {
    for (const shard of shardNames) {
      const shardPath = join(dir, shard);
      const file = await RandomAccessFile.open(shardPath);
      handles.set(shardPath, file);
      const parsed = await parseHeader(file);
      Object.assign(metadata, parsed.metadata);
      for (const [name, info] of parsed.tensors) {
        if (tensors.has(name)) throw new FormatError(shardPath, name, `tensor also present in ${tensors.get(name)!.file}`);
        tensors.set(name, info);
      }
    }
    for (const [name, shard] of Object.entries(weightMap as Record<string, string>)) {
      const info = tensors.get(name);
      if (!info || info.file !== join(dir, shard)) {
        throw new FormatError(indexPath, `weight_map.${name}`, `tensor not found in shard ${shard}`);
      }
    }
  } catch (e) {
    await Promise.all([...handles.values()].map((h) => h.close()));
    throw e;
  }
  return makeCheckpoint(indexPath, [...handles.keys()], tensors, metadata, handles);
}
