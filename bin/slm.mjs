#!/usr/bin/env node
// The `slm` command. In a clone of the repo the TypeScript sources are run through tsx (a dev
// dependency), so `npm install` then `npx slm ...` needs no build step and always runs the code
// as it is now. An installed package ships no sources, only the compiled dist/ (built by
// `npm pack` / `npm publish`), and runs that with plain Node.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
process.exitCode = await main(process.argv.slice(2));
