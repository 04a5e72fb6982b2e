#!/usr/bin/env node
// The `slm` command. In a clone of the repo the TypeScript sources are run through tsx (a dev
// dependency), so `npm install` then `npx slm ...` needs no build step and always runs the code
// as it is now. An installed package ships no sources, only the compiled dist/ (built by
// `npm pack` / `npm publish`), and runs that with plain Node.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

async function tsxRegister() {
  try {
    const { register } = await import('tsx/esm/api');
    return register;
  } catch {
    return undefined; // dev dependencies not installed (npm install --omit=dev)
  }
}

let main;
const register = existsSync(source) ? await tsxRegister() : undefined;
if (register) {
  register();
  ({ main } = await import(source.href));
} else if (existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  process.stderr.write('slm: neither tsx (a dev dependency: run `npm install`) nor a build (`npm run build`) is available\n');
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
