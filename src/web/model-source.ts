// The files of a Hugging Face model folder, wherever a page gets them: a URL base (read by HTTP
// ranges, so weights are never downloaded whole), files the user picked or dropped, or buffers.
import { SlmError } from '../errors.ts';
import { blobSource, bufferSource, urlSource, type ByteSource, type UrlSourceOptions } from '../formats/byte-source.ts';

export interface ModelSource {
  /** Shown in errors and as the model's name. */
  readonly name: string;
  /** The named file of the folder, or undefined when it has none. */
  open(file: string): Promise<ByteSource | undefined>;
}

/** A folder served over HTTP: `base` is its URL (a trailing '/' is added). */
export function urlModelSource(base: string, o: UrlSourceOptions = {}): ModelSource {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    name: root,
    async open(file) {
      try {
        return await urlSource(new URL(file, root).href, o);
      } catch (e) {
        if (e instanceof SlmError && /HTTP 404/.test(e.message)) return undefined;
        throw e;
      }
    },
  };
}

/** Files from <input type=file multiple> or a drop (by base name), or name -> bytes. */
export function filesModelSource(files: Iterable<Blob & { name: string }> | Record<string, Uint8Array | ArrayBuffer | Blob>, name = 'local files'): ModelSource {
  const byName = new Map<string, ByteSource>();
  const entries: [string, Uint8Array | ArrayBuffer | Blob][] =
    Symbol.iterator in files ? [...(files as Iterable<Blob & { name: string }>)].map((f) => [f.name, f]) : Object.entries(files);
  for (const [n, v] of entries) {
    const base = n.split('/').pop()!;
    byName.set(base, v instanceof Blob ? blobSource(v, base) : bufferSource(base, v));
  }
  return { name, open: async (file) => byName.get(file) };
}

/** The whole file (JSON, tokenizer files), refusing absurd sizes before reading. */
export async function readAll(src: ByteSource, limit = 256 * 1024 ** 2): Promise<Uint8Array> {
  if (src.size > limit) throw new SlmError('INVALID_ARGUMENT', `${src.name} is ${src.size} bytes; more than the ${limit}-byte limit for this file`);
  const b = await src.read(0, src.size);
  if (b.byteLength !== src.size) throw new SlmError('RUNTIME_ERROR', `${src.name}: read ${b.byteLength} of ${src.size} bytes`);
  return b;
}

export async function readJson(src: ByteSource): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(await readAll(src)));
  } catch (e) {
    if (e instanceof SlmError) throw e;
    throw new SlmError('INVALID_ARGUMENT', `${src.name} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SlmError('INVALID_ARGUMENT', `${src.name}: expected a JSON object`);
  return v as Record<string, unknown>;
}
