// The model that ships in models/default: a standard HF folder within the 50 MB budget,
// documented (card, licenses, log, loss curve), and `slm generate` with no model path runs
// it. Its held-out perplexity in the card matches the training log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

const DIR = fileURLToPath(new URL('../../models/default', import.meta.url));

test('models/default is a complete, documented Hugging Face folder under 50 MB', () => {
  let total = 0;
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'MODEL_CARD.md', 'LICENSES.md', 'metrics.jsonl', 'loss.svg']) {
    assert.ok(existsSync(join(DIR, f)), `models/default/${f} is missing`);
    total += statSync(join(DIR, f)).size;
  }
  assert.ok(total <= 50 * 2 ** 20, `default model folder is ${(total / 2 ** 20).toFixed(1)} MB`);
  // The card's final perplexity is the one the log recorded.
  const evals = readFileSync(join(DIR, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.eval_ppl !== undefined);
  const last = evals[evals.length - 1];
  assert.ok(last, 'no eval in metrics.jsonl');
  assert.ok(readFileSync(join(DIR, 'MODEL_CARD.md'), 'utf8').includes(last.eval_ppl.toFixed(1)), `card does not state the final perplexity ${last.eval_ppl.toFixed(1)}`);
});

test('slm generate without a model path runs the default model', async () => {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const code = await main(['generate', 'Once upon a time', '--max-tokens', '24', '--temperature', '0', '--json'], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) });
  assert.equal(code, 0, err);
  const r = JSON.parse(out);
  assert.equal(r.tokens.length, 24);
  assert.ok(/[a-z]{3,}/i.test(r.text), `no word in ${JSON.stringify(r.text)}`);
});
