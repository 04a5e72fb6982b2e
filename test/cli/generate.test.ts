// `slm generate` on a tiny real model: what it prints equals the generation loop's result in
// process; prompt forms, the default model, --stop and Ctrl-C.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateText } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { SlmError } from '../../src/errors.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';
import { runCli } from './helpers.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-gen-cache-'));
process.env.SLMKIT_CACHE = cacheDir;
let files: TinyModelFiles;
const PROMPT = 'Once upon a time';
const GREEDY = ['--temperature', '0', '--max-tokens', '10', '--threads', '1'];

interface JsonOut {
  text: string;
  tokens: number[];
  logprobs: number[];
  finish_reason: string;
  prompt_tokens: number;
  stats: { generated_tokens: number };
}

before(async () => {
  files = await writeTinyModel('llama', 7);
});
after(() => {
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

test('--json: text, tokens and logprobs equal the in-process greedy generation', async () => {
  const lm = await loadCausalLM(files.folder, { threads: 1, cacheDir });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const want = await generateText(lm.createSession(), codec, codec.encode(PROMPT, { addSpecialTokens: true }), { temperature: 0, maxTokens: 10 });
  await lm.dispose();
  const r = await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as JsonOut;
  assert.ok(want.tokens.length > 0);
  assert.deepEqual(j.tokens, want.tokens);
  assert.equal(j.text, want.text);
  assert.equal(j.finish_reason, want.finishReason);
  assert.equal(j.logprobs.length, j.tokens.length);
  for (const lp of j.logprobs) assert.ok(lp <= 0 && Number.isFinite(lp));
  assert.equal(j.stats.generated_tokens, j.tokens.length);
});

test('streams the same text to stdout (logs on stderr); the prompt may be positional', async () => {
  const j = JSON.parse((await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY, '--json'])).out) as JsonOut;
  const streamed = await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY]);
  assert.equal(streamed.code, 0, streamed.err);
  assert.equal(streamed.out, `${j.text}\n`);
  assert.match(streamed.err, /generated/);
  const positional = await runCli(['generate', files.folder, 'Once', 'upon', 'a', 'time', ...GREEDY]);
  assert.equal(positional.out, streamed.out);
});

test('--stop ends the text before the stop string', async () => {
  const j = JSON.parse((await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY, '--json'])).out) as JsonOut;
  assert.ok(j.text.length >= 6, `greedy text too short to cut: ${JSON.stringify(j.text)}`);
  const stop = j.text.slice(3, 5);
  const cut = JSON.parse((await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY, '--json', '--stop', stop])).out) as JsonOut;
  assert.equal(cut.finish_reason, 'stop');
  assert.equal(cut.text, j.text.slice(0, j.text.indexOf(stop)));
});

test('without a model path the default model is used; a missing default fails clearly', async () => {
  const prev = process.env.SLMKIT_DEFAULT_MODEL;
  try {
    process.env.SLMKIT_DEFAULT_MODEL = files.folder;
    const named = await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY]);
    const defaulted = await runCli(['generate', PROMPT, ...GREEDY]);
    assert.equal(defaulted.code, 0, defaulted.err);
    assert.equal(defaulted.out, named.out);
    assert.match(defaulted.err, /note: no model named, using the default model \(.*\); the prompt is "Once upon a time"/);
    assert.doesNotMatch(named.err, /note:/);

    process.env.SLMKIT_DEFAULT_MODEL = join(files.dir, 'no-such-model');
    const missing = await runCli(['generate', PROMPT, ...GREEDY]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /default model is not installed/);
    // With -p, a positional is the model: a missing one is named as such.
    const bad = await runCli(['generate', join(files.dir, 'nope'), '-p', PROMPT]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /'.*nope' is neither a model file or folder \(no such path\) nor a model in the local cache/);
  } finally {
    if (prev === undefined) delete process.env.SLMKIT_DEFAULT_MODEL;
    else process.env.SLMKIT_DEFAULT_MODEL = prev;
  }
});

test('bad flags are errors, not silent defaults', async () => {
  const r = await runCli(['generate', files.folder, '-p', PROMPT, '--temperature', 'hot']);
  assert.equal(r.code, 1);
  assert.match(r.err, /--temperature must be/);
  const d = await runCli(['generate', files.folder, '-p', PROMPT, '--dtype', 'f8']);
  assert.match(d.err, /--dtype must be one of/);
});

test('Ctrl-C stops generation cleanly: partial text printed, exit 130', async () => {
  const ac = new AbortController();
  const r = await runCli(['generate', files.folder, '-p', PROMPT, '--temperature', '1', '--seed', '3', '--max-tokens', '200', '--threads', '1'], '', {
    signal: ac.signal,
    onStdout: (all) => {
      if (all.length > 0) ac.abort();
    },
  });
  assert.equal(r.code, 130, r.err);
  assert.match(r.err, /\[abort\]/);
  const j = JSON.parse((await runCli(['generate', files.folder, '-p', PROMPT, '--temperature', '1', '--seed', '3', '--max-tokens', '200', '--threads', '1', '--json'])).out) as JsonOut;
  assert.ok(j.tokens.length > 20, 'the uninterrupted run should be long');
  // What was printed is a prefix of the uninterrupted output, cut well before its end.
  const printed = r.out.replace(/\n$/, '');
  assert.ok(j.text.startsWith(printed));
  assert.ok(printed.length < j.text.length / 2, `printed ${printed.length} of ${j.text.length} chars`);
});

test('negative numbers as values: --temperature -1 gives the same range error as --temperature=-1', async () => {
  const spaced = await runCli(['generate', files.folder, '-p', PROMPT, '--temperature', '-1']);
  const joined = await runCli(['generate', files.folder, '-p', PROMPT, '--temperature=-1']);
  assert.equal(spaced.code, 1, spaced.err);
  assert.match(spaced.err, /--temperature must be a number ≥ 0, got '-1'/);
  assert.equal(spaced.err, joined.err);
  const short = await runCli(['generate', files.folder, '-p', PROMPT, '-t', '-0.5']);
  assert.match(short.err, /--temperature must be a number ≥ 0, got '-0.5'/);
  const seed = await runCli(['generate', files.folder, '-p', PROMPT, '--seed', '-3', ...GREEDY.slice(0, 4), '--json']);
  assert.equal(seed.code, 0, seed.err); // a negative seed is a valid integer
});

test('--max-tokens beyond the context is capped with a notice on stderr', async () => {
  // The tiny model's context is 256 positions.
  const r = await runCli(['generate', files.folder, '-p', PROMPT, '--temperature', '0', '--max-tokens', '100000', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as JsonOut;
  assert.match(r.err, new RegExp(`--max-tokens 100000 is more than the context leaves after the prompt; generating at most ${256 - j.prompt_tokens}`));
  assert.ok(j.tokens.length <= 256 - j.prompt_tokens);
  const quiet = await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY]);
  assert.doesNotMatch(quiet.err, /note:/);
});

test('--json is snake_case throughout and --help lists every field', async () => {
  const r = await runCli(['generate', files.folder, '-p', PROMPT, ...GREEDY, '--json']);
  const keys: string[] = [];
  const walk = (o: unknown) => {
    if (o && typeof o === 'object' && !Array.isArray(o)) for (const [k, v] of Object.entries(o)) (keys.push(k), walk(v));
  };
  walk(JSON.parse(r.out));
  assert.ok(keys.includes('time_to_first_token_ms'), keys.join(','));
  const help = (await runCli(['generate', '--help'])).out;
  for (const k of keys) {
    assert.match(k, /^[a-z0-9]+(_[a-z0-9]+)*$/, `not snake_case: ${k}`);
    assert.ok(new RegExp(`\\b${k}\\b`).test(help), `--help does not list ${k}`);
  }
});

test('a model-looking positional that is no path and no cached model is an error naming both', async () => {
  for (const arg of ['./missing-model', 'missing.gguf', 'someorg/some-model']) {
    const r = await runCli(['generate', arg, 'hello', ...GREEDY]);
    assert.equal(r.code, 1, `${arg}: ${r.out}`);
    assert.match(r.err, /is neither a model file or folder \(no such path\) nor a model in the local cache \(org\/name\)/);
    assert.equal(r.out, '');
  }
});

test('an adapter folder given as the model says to use --lora or slm merge', async () => {
  const dir = join(files.dir, 'adapter-as-model');
  cpSync(files.folder, dir, { recursive: true });
  rmSync(join(dir, 'config.json'));
  writeFileSync(join(dir, 'adapter_config.json'), '{}');
  const r = await runCli(['generate', dir, '-p', PROMPT]);
  assert.equal(r.code, 1);
  assert.match(r.err, /is a LoRA adapter, not a model: give its base model and --lora .*, or .*slm merge/);
});

test("-p '' samples from BOS when the tokenizer adds it, and says why not when it does not", async () => {
  const withBos = join(files.dir, 'with-bos');
  cpSync(files.folder, withBos, { recursive: true });
  const cfgFile = join(withBos, 'tokenizer_config.json');
  writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), add_bos_token: true }));
  const lm = await loadCausalLM(withBos, { threads: 1, cacheDir });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const bos = encodePrompt(codec, '');
  assert.deepEqual(bos, [lm.tokenizer.bosId]);
  const want = await generateText(lm.createSession(), codec, bos, { temperature: 0, maxTokens: 10 });
  await lm.dispose();
  const r = await runCli(['generate', withBos, '-p', '', ...GREEDY, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as JsonOut;
  assert.equal(j.prompt_tokens, 1);
  assert.deepEqual(j.tokens, want.tokens);

  // The fixture's own tokenizer adds no BOS: nothing to start from.
  const none = await runCli(['generate', files.folder, '-p', '', ...GREEDY]);
  assert.equal(none.code, 1);
  assert.match(none.err, /the prompt is empty and this model's tokenizer adds no BOS token/);
  // The library says the same (typed error) through encodePrompt.
  const plainTok = await loadTokenizer(files.folder);
  assert.throws(() => encodePrompt(codecFromTokenizer(plainTok), ''), (e: Error) => e instanceof SlmError && /adds no BOS token/.test(e.message));
});
