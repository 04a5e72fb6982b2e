// One rule for <model> in every command that takes one (issue 16 defect 3, issue 17): a missing
// model is the default model, a name that is no path and no cached model is the same error
// everywhere, and the hub cache plugs in through setCachedModelLookup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModelArgument, setCachedModelLookup } from '../../src/cli/resolve-model.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';
import { runCli } from './helpers.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-resolve-cache-'));
process.env.SLMKIT_CACHE = cacheDir;
let files: TinyModelFiles;
let prevDefault: string | undefined;
before(async () => {
  files = await writeTinyModel('llama', 7);
  prevDefault = process.env.SLMKIT_DEFAULT_MODEL;
  process.env.SLMKIT_DEFAULT_MODEL = files.folder;
});
after(() => {
  if (prevDefault === undefined) delete process.env.SLMKIT_DEFAULT_MODEL;
  else process.env.SLMKIT_DEFAULT_MODEL = prevDefault;
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

test('the rule: a path, else a cached org/name, else an error (model-looking or no text allowed), else the default', async () => {
  assert.deepEqual(await resolveModelArgument([files.folder, 'hi'], { textAllowed: true }), { model: files.folder, rest: ['hi'], isDefault: false });
  assert.deepEqual(await resolveModelArgument(['Once', 'upon'], { textAllowed: true }), { model: files.folder, rest: ['Once', 'upon'], isDefault: true });
  assert.deepEqual(await resolveModelArgument([], { textAllowed: false }), { model: files.folder, rest: [], isDefault: true });
  await assert.rejects(resolveModelArgument(['Once'], { textAllowed: false }), /'Once' is neither a model file or folder/);
  await assert.rejects(resolveModelArgument(['org/name', 'hi'], { textAllowed: true }), /local cache \(org\/name\).*use -p TEXT/);
  setCachedModelLookup((arg) => (arg === 'org/name' ? files.folder : undefined));
  try {
    assert.deepEqual(await resolveModelArgument(['org/name', 'hi'], { textAllowed: true }), { model: files.folder, rest: ['hi'], isDefault: false });
  } finally {
    setCachedModelLookup(undefined);
  }
});

test('every command that takes a model gives the same error for a name that is not one', async () => {
  const runs = [
    ['generate', 'no/such-model', '-p', 'hi'],
    ['chat', 'no/such-model'],
    ['serve', 'no/such-model', '--port', '0'],
    ['bench', 'no/such-model'],
    ['inspect', 'no/such-model'],
    ['convert', 'no/such-model', join(files.dir, 'x.gguf')],
  ];
  for (const args of runs) {
    const r = await runCli(args);
    assert.equal(r.code, 1, `${args[0]}: ${r.err}`);
    assert.match(r.err, new RegExp(`^slm ${args[0]}: 'no/such-model' is neither a model file or folder \\(no such path\\) nor a model in the local cache \\(org/name\\)\\. Give a Hugging Face folder, a \\.gguf file or a cached org/name \\(download one with \`slm pull org/name\` or add --pull\\)\\.\\n$`));
  }
});

test('bench without a model benches the default model', async () => {
  const r = await runCli(['bench', '--prompt-tokens', '4', '--gen-tokens', '2', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.ok(j.decode_tok_s > 0, r.out);
});
