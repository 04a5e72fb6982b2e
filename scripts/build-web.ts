// npm run build:web — writes the browser bundles (src/web/bundle.ts) to dist/web-bundle/ with
// their gzip sizes, so an installed package can serve the playground without esbuild.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { buildWebBundles } from '../src/web/bundle.ts';

const out = new URL('../dist/web-bundle/', import.meta.url);
mkdirSync(out, { recursive: true });
const { files } = await buildWebBundles();
for (const [name, bytes] of files) {
  writeFileSync(new URL(name, out), bytes);
  console.error(`${name}: ${(bytes.length / 1024).toFixed(0)} KiB, gzip ${(gzipSync(bytes).length / 1024).toFixed(0)} KiB`);
}
// The page itself, for `slm serve --ui` from an installed package (src/server/routes/ui.ts).
copyFileSync(new URL('../src/web/playground/index.html', import.meta.url), new URL('index.html', out));
