// One entry point for any supported checkpoint: a weights file, a shard index, or a model
// folder (where the weights are found by their conventional names).
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FormatError, SlmError } from '../errors.ts';
import { combineCheckpoints, type Checkpoint, type CheckpointFormat } from './checkpoint.ts';
import { RandomAccessFile } from './file-reader.ts';
import { openGguf } from './gguf/reader.ts';
import { openPytorchBin } from './pytorch.ts';
import { openSafetensors, openSafetensorsIndex } from './safetensors.ts';

export interface WeightsLocation {
  format: CheckpointFormat;
  /** The file to open: a weights file or a shard index. */
  path: string;
  sharded: boolean;
}

/** Conventional weight file names, in order of preference. */
export const WEIGHT_FILE_NAMES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;

/** Finds the weights in a model folder without reading them. */
export async function findWeights(dir: string): Promise<WeightsLocation> {
  const names = await readdir(dir).catch((e) => {
    throw new SlmError('NOT_FOUND', `cannot read folder ${dir}: ${(e as Error).message}`);
  });
  for (const n of WEIGHT_FILE_NAMES) {
    if (names.includes(n)) return { format: n.includes('safetensors') ? 'safetensors' : 'pytorch', path: join(dir, n), sharded: n.endsWith('.json') };
  }
  const ggufs = names.filter((n) => n.endsWith('.gguf')).sort();
  if (ggufs.length === 1) return { format: 'gguf', path: join(dir, ggufs[0]), sharded: false };
  if (ggufs.length > 1) throw new SlmError('INVALID_ARGUMENT', `${dir} holds several .gguf files (${ggufs.join(', ')}); open one of them directly`);
  throw new SlmError('NOT_FOUND', `no weights in ${dir}: expected one of ${WEIGHT_FILE_NAMES.join(', ')} or a .gguf file`);
}

/** Opens a checkpoint file, a `*.index.json` shard index, or a model folder. */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such file or folder: ${path}`);
  if (st.isDirectory()) {
    const w = await findWeights(path);
    return openFile(w.path);
  }
  return openFile(path);
}

async function openFile(path: string): Promise<Checkpoint> {
  const name = basename(path);
  if (name.endsWith('.safetensors.index.json')) return openSafetensorsIndex(path);
  if (name.endsWith('.bin.index.json')) return openPytorchIndex(path);
  if (name.endsWith('.safetensors')) return openSafetensors(path);
  if (name.endsWith('.gguf')) return openGguf(path);
  if (/\.(bin|pt|pth)$/.test(name)) return openPytorchBin(path);
  // Unknown extension: sniff the first bytes.
  const f = await RandomAccessFile.open(path);
  const head = await f.read(0, Math.min(4, f.size), 'magic').finally(() => f.close());
  const magic = new TextDecoder('latin1').decode(head);
  if (magic === 'GGUF') return openGguf(path);
  if (magic.startsWith('PK')) return openPytorchBin(path);
  return openSafetensors(path);
}

/** Sharded PyTorch checkpoint from `pytorch_model.bin.index.json`. */
export async function openPytorchIndex(indexPath: string): Promise<Checkpoint> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (e) {
    throw new FormatError(indexPath, undefined, `not valid JSON: ${(e as Error).message}`);
  }
  const weightMap = (index as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) throw new FormatError(indexPath, 'weight_map', 'missing or not an object');
  const shards = new Set<string>();
  for (const [k, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard === '..' || shard === '.') {
      throw new FormatError(indexPath, `weight_map.${k}`, `shard must be a file name in the same folder, got ${JSON.stringify(shard)}`);
    }
    shards.add(shard);
  }
  const parts: Checkpoint[] = [];
  try {
    for (const s of shards) parts.push(await openPytorchBin(join(dirname(indexPath), s)));
  } catch (e) {
    await Promise.all(parts.map((p) => p.close()));
    throw e;
  }
  const combined = combineCheckpoints(indexPath, parts);
  for (const k of Object.keys(weightMap)) {
    if (!combined.tensors.has(k)) {
      await combined.close();
      throw new FormatError(indexPath, `weight_map.${k}`, 'tensor not found in its shard');
    }
  }
  return combined;
}
