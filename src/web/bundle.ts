// Builds the browser bundles with esbuild (Node-only; never imported by the web entry):
//   slmkit-web.js  — the `slmkit/web` library (src/web/index.ts) for pages that import it
//   playground.js  — the playground page's script (src/web/playground/main.ts)
// onnxruntime-web's .wasm files are not bundled: pages load them from `wasmPaths`
// (the playground server serves them from the installed package, src/server/routes/ui.ts).
import { SlmError } from '../errors.ts';

export const WEB_ENTRIES = {
  'slmkit-web': new URL('./index.ts', import.meta.url),
  playground: new URL('./playground/main.ts', import.meta.url),
} as const;

export interface WebBundle {
  /** Output file name -> contents. */
  files: Map<string, Uint8Array>;
  /** esbuild's metafile (inputs and outputs), for the no-Node-built-ins check. */
  metafile: { inputs: Record<string, unknown>; outputs: Record<string, { bytes: number; imports: { path: string; external?: boolean }[] }> };
}

export async function buildWebBundles(o: { entries?: (keyof typeof WEB_ENTRIES)[]; minify?: boolean } = {}): Promise<WebBundle> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new SlmError('UNSUPPORTED', `building the web bundle needs esbuild (a dev dependency of slmkit): ${(e as Error).message}`, { cause: e });
  }
  const names = o.entries ?? (Object.keys(WEB_ENTRIES) as (keyof typeof WEB_ENTRIES)[]);
  const r = await esbuild.build({
    entryPoints: names.map((n) => ({ in: WEB_ENTRIES[n].pathname, out: n })),
    bundle: true,
    format: 'esm',
    // 'browser': a Node built-in anywhere in the import graph fails the build.
    platform: 'browser',
    target: 'es2022',
    minify: o.minify ?? true,
    write: false,
    metafile: true,
    outdir: '/web-bundle',
    logLevel: 'silent',
  });
  const files = new Map<string, Uint8Array>();
  for (const f of r.outputFiles) files.set(f.path.replace(/^.*\//, ''), f.contents);
  return { files, metafile: r.metafile as unknown as WebBundle['metafile'] };
}
