// The page's cache of built models, so a second visit starts fast: each entry is one built
// graph — the encoded ONNX model and its gathered (already quantized) weights — kept in the
// Origin Private File System as <dir>/<key>/{model.onnx, model.onnx.data, meta.json}. meta.json
// is written last and names the sizes, so a half-written entry (tab closed, quota hit) is never
// taken for a complete one.
//
// The key follows the Node cache (src/runtime/cache.ts): a SHA-256 over the encoded model proto
// (the lowered graph: nodes, initializer names, dims, offsets) and every initializer's
// identity — for weights the weights file's version (ETag / Last-Modified / File mtime), dtype,
// shape and form; for generated tables their descriptor. Lowering reads no weights, so the key
// is known before any weight byte is fetched.
import type { LoweredModel } from '../onnx/lower.ts';
import { SlmError } from '../errors.ts';

const KEY_VERSION = 'slmkit-web-cache-v1';
const MODEL = 'model.onnx';
const DATA = 'model.onnx.data';
const META = 'meta.json';

export interface BuiltModelEntry {
  model: Uint8Array;
  data: Uint8Array;
  /** The graph's input and output names (the runner needs them without lowering again). */
  inputs: string[];
  outputs: string[];
}

export interface BuiltModelCache {
  /** Where it keeps entries, for messages. */
  readonly name: string;
  get(key: string): Promise<BuiltModelEntry | undefined>;
  put(key: string, entry: BuiltModelEntry): Promise<void>;
}

/** The cache key of a lowered model whose weights come from a file of version `weightsVersion`. */
export async function builtModelKey(lowered: LoweredModel, modelBytes: Uint8Array, weightsVersion: string): Promise<string> {
  const parts: string[] = [KEY_VERSION, `weights=${weightsVersion}`];
  for (const init of lowered.initializers) {
    const s = init.source;
    if (s.kind === 'generated') parts.push(`gen\0${init.name}\0${s.identity}`);
    else parts.push(`param\0${init.name}\0${s.param.name}\0${s.param.dtype}\0${s.param.shape.join(',')}\0${s.form}`);
  }
  const text = new TextEncoder().encode(parts.join('\n'));
  const all = new Uint8Array(modelBytes.byteLength + text.byteLength);
  all.set(modelBytes, 0);
  all.set(text, modelBytes.byteLength);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new SlmError('UNSUPPORTED', 'the built-model cache needs crypto.subtle (a secure context: https or localhost)');
  const digest = new Uint8Array(await subtle.digest('SHA-256', all));
  return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** An in-memory cache (Node tests, or a page that wants no persistence). */
export function memoryModelCache(): BuiltModelCache & { entries: Map<string, BuiltModelEntry> } {
  const entries = new Map<string, BuiltModelEntry>();
  return {
    name: 'memory',
    entries,
    get: async (k) => entries.get(k),
    put: async (k, e) => void entries.set(k, { ...e, data: e.data.slice(), model: e.model.slice() }),
  };
}

type Dir = FileSystemDirectoryHandle;

async function opfsRoot(): Promise<Dir | undefined> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) return undefined;
  try {
    return await storage.getDirectory();
  } catch {
    return undefined; // e.g. a private window or an insecure context
  }
}

/** True when this page can keep built models in the Origin Private File System. */
export async function opfsAvailable(): Promise<boolean> {
  return (await opfsRoot()) !== undefined;
}

async function readFile(dir: Dir, name: string): Promise<Uint8Array> {
  const f = await (await dir.getFileHandle(name)).getFile();
  return new Uint8Array(await f.arrayBuffer());
}

async function writeFile(dir: Dir, name: string, bytes: Uint8Array | string): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  try {
    await w.write(bytes as FileSystemWriteChunkType);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
}

/** Built models in the Origin Private File System under `dirName`. */
export function opfsModelCache(dirName = 'slmkit-built-models'): BuiltModelCache {
  const folder = async (create: boolean): Promise<Dir | undefined> => {
    const root = await opfsRoot();
    if (!root) return undefined;
    try {
      return await root.getDirectoryHandle(dirName, { create });
    } catch {
      return undefined;
    }
  };
  return {
    name: `OPFS:${dirName}`,
    async get(key) {
      const dir = await folder(false);
      if (!dir) return undefined;
      let entry: Dir;
      try {
        entry = await dir.getDirectoryHandle(key);
      } catch {
        return undefined;
      }
      try {
        const meta = JSON.parse(new TextDecoder().decode(await readFile(entry, META))) as { modelBytes: number; dataBytes: number; inputs: string[]; outputs: string[] };
        const [model, data] = [await readFile(entry, MODEL), await readFile(entry, DATA)];
        if (model.byteLength !== meta.modelBytes || data.byteLength !== meta.dataBytes) return undefined;
        return { model, data, inputs: meta.inputs, outputs: meta.outputs };
      } catch {
        return undefined; // no meta.json yet: an unfinished write
      }
    },
    async put(key, e) {
      const dir = await folder(true);
      if (!dir) throw new SlmError('UNSUPPORTED', 'this page has no Origin Private File System');
      // A stale, partial entry under this key is replaced whole.
      await dir.removeEntry(key, { recursive: true }).catch(() => undefined);
      const entry = await dir.getDirectoryHandle(key, { create: true });
      try {
        await writeFile(entry, MODEL, e.model);
        await writeFile(entry, DATA, e.data);
        await writeFile(entry, META, JSON.stringify({ modelBytes: e.model.byteLength, dataBytes: e.data.byteLength, inputs: e.inputs, outputs: e.outputs }));
      } catch (err) {
        await dir.removeEntry(key, { recursive: true }).catch(() => undefined);
        throw new SlmError('RUNTIME_ERROR', `could not store the built model in the browser's storage (${(err as Error).message}); it will be built again next time`, { cause: err });
      }
    },
  };
}

/** Removes every built model this page stored (`opfsModelCache(dirName)`); returns how many. */
export async function clearOpfsModelCache(dirName = 'slmkit-built-models'): Promise<number> {
  const root = await opfsRoot();
  if (!root) return 0;
  let n = 0;
  try {
    const dir = await root.getDirectoryHandle(dirName);
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
      await dir.removeEntry(name, { recursive: true });
      n++;
    }
  } catch {
    return n;
  }
  return n;
}
