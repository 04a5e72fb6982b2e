// On-disk cache of built ONNX models: <cacheDir>/<key>/{model.onnx, model.onnx.data}.
//
// The key hashes the encoded model proto (the lowered graph structure: nodes, attributes,
// initializer names, dims and offsets) together with the identity of every initializer: for
// weights their name, dtype, shape and either a caller-given version key or a sha256 of their
// bytes; for generated tables (rotary caches) a descriptor of how they were made. A second
// compile of the same graph with the same weights therefore finds the entry and writes
// nothing. Entries are written into a temp folder and renamed into place, so a reader never
// sees a half-written entry and two writers racing both end up with a complete one.
//
// Content hashing reads every weight once; with lazy (file-backed) params on a cache miss they
// are read a second time to write the data file. Pass `weightsVersion` to skip hashing.

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwIfAborted } from '../errors.ts';
import { cacheDir } from '../util/cache-root.ts';
import type { LoweredModel } from '../onnx/lower.ts';
import { contentHash, writeDataFile, type ParamLoader } from '../onnx/external-data.ts';

export const MODEL_FILE = 'model.onnx';
export const DATA_FILE = 'model.onnx.data';
const KEY_VERSION = 'slmkit-onnx-cache-v1';

/** <cache root>/onnx (src/util/cache-root.ts: $SLMKIT_CACHE or the user's cache directory). */
export function defaultCacheDir(): string {
  return cacheDir('onnx');
}

export interface BuiltModel {
  /** Folder holding model.onnx and model.onnx.data. */
  dir: string;
  modelPath: string;
  /** True when the entry already existed and nothing was written. */
  cacheHit: boolean;
  key: string;
  /** Set when the folder is private to this build (cacheDir false): remove it when done. */
  temporary: boolean;
}

export interface BuildOptions {
  /** Cache folder, or false to build into a private temp folder. */
  cacheDir: string | false;
  /** Stands for the weights' content in the cache key (skips hashing their bytes). */
  weightsVersion?: string;
  load: ParamLoader;
  signal?: AbortSignal;
}

/** The cache key of a lowered model with its weights. */
export async function cacheKey(lowered: LoweredModel, modelBytes: Uint8Array, o: Pick<BuildOptions, 'weightsVersion' | 'load' | 'signal'>): Promise<string> {
  const h = createHash('sha256');
  h.update(KEY_VERSION);
  h.update(modelBytes);
  const hashes = new Map<string, string>();
  for (const init of lowered.initializers) {
    throwIfAborted(o.signal);
    const s = init.source;
    if (s.kind === 'generated') {
      h.update(`\0gen\0${init.name}\0${s.identity}`);
      continue;
    }
    const p = s.param;
    let id = hashes.get(p.name!);
    if (id === undefined) {
      id = o.weightsVersion !== undefined ? `version:${o.weightsVersion}` : `sha256:${contentHash(await o.load(p))}`;
      hashes.set(p.name!, id);
    }
    h.update(`\0param\0${init.name}\0${p.name}\0${p.dtype}\0${p.shape.join(',')}\0${s.form}\0${id}`);
  }
  return h.digest('hex').slice(0, 32);
}

function complete(dir: string, lowered: LoweredModel): boolean {
  const data = join(dir, DATA_FILE);
  return existsSync(join(dir, MODEL_FILE)) && existsSync(data) && statSync(data).size === lowered.dataSize;
}

/** Finds the built model in the cache or writes it there. */
export async function buildModel(lowered: LoweredModel, modelBytes: Uint8Array, o: BuildOptions): Promise<BuiltModel> {
  if (o.cacheDir === false) {
    const dir = await mkdtemp(join(tmpdir(), 'slmkit-onnx-'));
    try {
      await writeEntry(dir, lowered, modelBytes, o);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return { dir, modelPath: join(dir, MODEL_FILE), cacheHit: false, key: '', temporary: true };
  }
  const key = await cacheKey(lowered, modelBytes, o);
  const dir = join(o.cacheDir, key);
  if (complete(dir, lowered)) return { dir, modelPath: join(dir, MODEL_FILE), cacheHit: true, key, temporary: false };

  await mkdir(o.cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(o.cacheDir, `.${key}.tmp-`));
  try {
    await writeEntry(tmp, lowered, modelBytes, o);
    if (!complete(dir, lowered)) {
      await rm(dir, { recursive: true, force: true }); // a stale, incomplete entry
      try {
        await rename(tmp, dir);
      } catch (e) {
        // Another process renamed a complete entry in first: use theirs.
        if (!complete(dir, lowered)) throw e;
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { dir, modelPath: join(dir, MODEL_FILE), cacheHit: false, key, temporary: false };
}

async function writeEntry(dir: string, lowered: LoweredModel, modelBytes: Uint8Array, o: BuildOptions): Promise<void> {
  await writeDataFile(join(dir, DATA_FILE), lowered, o.load, o.signal);
  throwIfAborted(o.signal);
  await writeFile(join(dir, MODEL_FILE), modelBytes, { flush: true });
}
