// `slm serve --ui`: the playground page at `/`, its script, onnxruntime-web's wasm files, and
// the served model's folder or GGUF file (read by the page over HTTP ranges) — so a browser can run the same
// model in the page or ask this server's OpenAI API, with nothing installed.
//
// Every UI response carries COOP/COEP: the page is then cross-origin isolated, which
// onnxruntime-web needs for WASM threads (SharedArrayBuffer).
import { existsSync, statSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';
import { ApiError } from '../api-error.ts';

export interface UiOptions {
  /** The served model's folder (or file); its files are offered to the page when it is a folder. */
  modelPath: string;
  /** Shown in the page. */
  modelName: string;
}

export const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' };

const PLAYGROUND_DIR = fileURLToPath(new URL('../../web/playground/', import.meta.url));
/** Prebuilt bundles (npm run build:web) next to the compiled package, for installs without esbuild. */
const PREBUILT_DIR = fileURLToPath(new URL('../../../dist/web-bundle/', import.meta.url));

let bundle: Promise<Uint8Array> | undefined;
/** playground.js: prebuilt if present, else built once from source with esbuild (a dev checkout). */
function playgroundScript(): Promise<Uint8Array> {
  return (bundle ??= (async () => {
    const prebuilt = join(PREBUILT_DIR, 'playground.js');
    if (existsSync(prebuilt) && !existsSync(join(PLAYGROUND_DIR, 'main.ts'))) return new Uint8Array(await readFile(prebuilt));
    const { buildWebBundles } = await import('../../web/bundle.ts');
    return (await buildWebBundles({ entries: ['playground'] })).files.get('playground.js')!;
  })().catch((e) => {
    bundle = undefined;
    throw e;
  }));
}

/** onnxruntime-web's dist folder (the Node entry lives there too). */
function ortDistDir(): string {
  return dirname(fileURLToPath(import.meta.resolve('onnxruntime-web')));
}

const MIME: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html; charset=utf-8' };
const mimeOf = (name: string) => MIME[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

/** A file with Range support (the page reads weights by ranges). */
async function sendFile(c: Context, path: string, extra: Record<string, string> = {}): Promise<Response> {
  const st = statSync(path);
  const size = st.size;
  // A validator, so the page's cache of built models (src/web/cache.ts) knows a changed file.
  const headers: Record<string, string> = {
    ...ISOLATION_HEADERS,
    'content-type': mimeOf(path),
    'accept-ranges': 'bytes',
    etag: `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    'last-modified': st.mtime.toUTCString(),
    ...extra,
  };
  const m = /^bytes=(\d+)-(\d*)$/.exec(c.req.header('range') ?? '');
  let start = 0;
  let end = size - 1;
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start > end || start >= size) return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` } });
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['content-length'] = String(end - start + 1);
  if (c.req.method === 'HEAD') return new Response(null, { status: m ? 206 : 200, headers });
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(end - start + 1);
    await fh.read(buf, 0, buf.length, start);
    return new Response(buf, { status: m ? 206 : 200, headers });
  } finally {
    await fh.close();
  }
}

const notFound = (what: string) => new ApiError(404, `No ${what}.`, 'not_found_error');

/**
 * What the page can load of the served model: a Hugging Face folder with model.safetensors, or
 * one GGUF file (given directly, or alone in a folder without config.json). Its files are then
 * served from /ui/model/.
 */
async function browserModel(modelPath: string): Promise<{ dir: string; gguf?: string } | undefined> {
  if (!existsSync(modelPath)) return undefined;
  if (statSync(modelPath).isFile()) return modelPath.toLowerCase().endsWith('.gguf') ? { dir: dirname(modelPath), gguf: basename(modelPath) } : undefined;
  const files = await readdir(modelPath);
  if (['config.json', 'tokenizer.json', 'model.safetensors'].every((f) => files.includes(f))) return { dir: modelPath };
  const ggufs = files.filter((f) => f.toLowerCase().endsWith('.gguf'));
  return !files.includes('config.json') && ggufs.length === 1 ? { dir: modelPath, gguf: ggufs[0] } : undefined;
}

export function mountUi(app: Hono, o: UiOptions): void {
  const served = browserModel(o.modelPath);
  // The source page in a checkout; the copy next to the prebuilt bundle in an installed package.
  const pageFile = existsSync(join(PLAYGROUND_DIR, 'index.html')) ? join(PLAYGROUND_DIR, 'index.html') : join(PREBUILT_DIR, 'index.html');
  app.get('/', async () => new Response(await readFile(pageFile), { headers: { ...ISOLATION_HEADERS, 'content-type': MIME['.html']! } }));
  app.get('/ui/playground.js', async () => new Response((await playgroundScript()) as Uint8Array<ArrayBuffer>, { headers: { ...ISOLATION_HEADERS, 'content-type': MIME['.js']! } }));
  app.get('/ui/info', async (c) => {
    const m = await served;
    return c.json({ model: o.modelName, browser: m !== undefined, ...(m?.gguf ? { gguf: m.gguf } : {}) }, 200, ISOLATION_HEADERS);
  });
  app.get('/ui/ort/:file', (c) => {
    const file = c.req.param('file');
    if (!/^ort-wasm[\w.-]*\.(wasm|mjs)$/.test(file)) throw notFound(`onnxruntime-web file ${file}`);
    const path = join(ortDistDir(), file);
    if (!existsSync(path)) throw notFound(`onnxruntime-web file ${file}`);
    // Cacheable, so Chromium keeps the compiled wasm module (its code cache) between visits.
    return sendFile(c, path, { 'cache-control': 'public, max-age=86400' });
  });
  app.get('/ui/model/:file', async (c) => {
    const file = c.req.param('file');
    const m = await served;
    // Plain names inside the model folder only (for a GGUF, that file only).
    if (!m || !/^[\w][\w.-]*$/.test(file) || (m.gguf !== undefined && file !== m.gguf)) throw notFound(`model file ${file}`);
    const path = join(m.dir, file);
    if (!existsSync(path) || !statSync(path).isFile()) throw notFound(`model file ${file}`);
    return sendFile(c, path);
  });
}
