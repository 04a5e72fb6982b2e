// The files of a model, wherever a page gets them: a Hugging Face folder at a URL base (read by
// HTTP ranges, so weights are never downloaded whole), a single GGUF file (URL, File or bytes),
// files the user picked or dropped, or buffers.
//
// Sources opened from URLs retry a failed range a few times before giving up (a dropped
// connection midway through a large model should cost one range, not the whole load), and
// carry a `version` (ETag / Last-Modified, or a File's size and mtime) that keys the cache of
// built models (cache.ts): a changed file on the server is a different model.
import { SlmError, AbortError } from '../errors.ts';
import { blobSource, bufferSource, urlSource, type ByteSource, type UrlSourceOptions } from '../formats/byte-source.ts';

/** A ByteSource that may say which version of its file it reads (for the built-model cache). */
export interface VersionedSource extends ByteSource {
  /** Identifies the file's content (ETag, Last-Modified, size+mtime); absent: not cacheable. */
  readonly version?: string;
}

export interface ModelSource {
  /** Shown in errors and as the model's name. */
  readonly name: string;
  /** The named file of a Hugging Face folder, or undefined when it has none. */
  open(file: string): Promise<VersionedSource | undefined>;
  /** Set when the model is one GGUF file (ggufModelSource, or a single dropped .gguf). */
  gguf?(): Promise<VersionedSource>;
}

export interface UrlModelOptions extends UrlSourceOptions {
  /** Further attempts for a failed range read (default 2), with a growing pause. */
  retries?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new AbortError())), { once: true });
  });

/** urlSource, keeping the HEAD answer's validator and retrying failed range reads. */
async function versionedUrlSource(url: string, o: UrlModelOptions): Promise<VersionedSource> {
  const f = o.fetch ?? fetch;
  let version: string | undefined;
  const keepValidator: typeof fetch = async (input, init) => {
    const r = await f(input, init);
    if (init?.method === 'HEAD') {
      const v = r.headers.get('etag') ?? r.headers.get('last-modified');
      version = v ? `${url}|${v}` : undefined;
    }
    return r;
  };
  const src = await urlSource(url, { ...o, fetch: keepValidator });
  const retries = o.retries ?? 2;
  return {
    name: src.name,
    size: src.size,
    version: version && `${version}|${src.size}`,
    async read(offset, length) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await src.read(offset, length);
        } catch (e) {
          if (o.signal?.aborted) throw new AbortError();
          const msg = (e as Error).message ?? String(e);
          if (attempt >= retries) {
            throw new SlmError('RUNTIME_ERROR', `download of ${url} failed at bytes ${offset}..${offset + length} after ${attempt + 1} attempts: ${msg}`, { cause: e });
          }
          await sleep(250 * 4 ** attempt, o.signal);
        }
      }
    },
  };
}

function notFound(e: unknown): boolean {
  return e instanceof SlmError && /HTTP 404/.test(e.message);
}

/** A Hugging Face folder served over HTTP: `base` is its URL (a trailing '/' is added). */
export function urlModelSource(base: string, o: UrlModelOptions = {}): ModelSource {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    name: root,
    async open(file) {
      try {
        return await versionedUrlSource(new URL(file, root).href, o);
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
  };
}

function fileVersion(b: Blob): string | undefined {
  const f = b as Blob & { name?: string; lastModified?: number };
  return f.name !== undefined && f.lastModified !== undefined ? `file:${f.name}|${f.size}|${f.lastModified}` : undefined;
}

function sourceOf(name: string, v: Uint8Array | ArrayBuffer | Blob): VersionedSource {
  // Bytes handed over in memory have no identity to cache them by.
  return v instanceof Blob ? { ...blobSource(v, name), version: fileVersion(v) } : bufferSource(name, v);
}

/** One GGUF file: a URL (read by ranges), a File/Blob, or its bytes. */
export function ggufModelSource(file: string | Blob | Uint8Array | ArrayBuffer, name?: string, o: UrlModelOptions = {}): ModelSource {
  const label = name ?? (typeof file === 'string' ? file : ((file as { name?: string }).name ?? 'model.gguf'));
  return {
    name: label,
    open: async () => undefined,
    gguf: async () => {
      if (typeof file !== 'string') return sourceOf(label, file);
      try {
        return await versionedUrlSource(file, o);
      } catch (e) {
        if (notFound(e)) throw new SlmError('NOT_FOUND', `${file}: HTTP 404 (no such GGUF file)`, { cause: e });
        throw e;
      }
    },
  };
}

/**
 * Files from <input type=file multiple> or a drop (by base name), or name -> bytes: a Hugging
 * Face folder's files, or one .gguf file (then the source is a GGUF model).
 */
export function filesModelSource(files: Iterable<Blob & { name: string }> | Record<string, Uint8Array | ArrayBuffer | Blob>, name = 'local files'): ModelSource {
  const byName = new Map<string, VersionedSource>();
  const entries: [string, Uint8Array | ArrayBuffer | Blob][] =
    Symbol.iterator in files ? [...(files as Iterable<Blob & { name: string }>)].map((f) => [f.name, f]) : Object.entries(files);
  for (const [n, v] of entries) {
    const base = n.split('/').pop()!;
    byName.set(base, sourceOf(base, v));
  }
  const ggufs = [...byName.keys()].filter((n) => n.toLowerCase().endsWith('.gguf'));
  const src: ModelSource = { name, open: async (file) => byName.get(file) };
  if (!byName.has('config.json') && ggufs.length === 1) return { ...src, name: ggufs[0]!, gguf: async () => byName.get(ggufs[0]!)! };
  if (!byName.has('config.json') && ggufs.length > 1) {
    return { ...src, gguf: async () => { throw new SlmError('INVALID_ARGUMENT', `${name}: ${ggufs.length} .gguf files (${ggufs.join(', ')}); give one`); } };
  }
  return src;
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

/** Counts the bytes read through `src` (for download progress). */
export function countingSource(src: VersionedSource, onRead: (bytes: number) => void): VersionedSource {
  return { name: src.name, size: src.size, version: src.version, read: async (o, l) => {
    const b = await src.read(o, l);
    onRead(b.byteLength);
    return b;
  }, close: src.close && (() => src.close!()) };
}
