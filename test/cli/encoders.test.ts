// `slm fill-mask`, `slm classify` and `slm embed` on tiny random encoders: output shapes and
// formats as the HF pipelines give them, results equal to the library's, clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers.ts';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';

const cache = process.env.SLMKIT_CACHE;
process.env.SLMKIT_CACHE = `${process.env.TMPDIR ?? '/tmp'}/slmkit-encoder-cli-cache`;
test.after(() => {
  if (cache === undefined) delete process.env.SLMKIT_CACHE;
  else process.env.SLMKIT_CACHE = cache;
});

test('slm fill-mask --json: one array per text of {token, token_str, score, sequence}, best first; mask errors', async () => {
  const { dir } = await writeTinyEncoder('roberta', 'masked-lm');
  const r = await runCli(['fill-mask', dir, 'the cat <mask> on the mat .', 'a [MASK] movie', '--top-k', '4', '--json', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const arr of lines) {
    assert.equal(arr.length, 4);
    assert.deepEqual(Object.keys(arr[0]).sort(), ['score', 'sequence', 'token', 'token_str']);
    for (let i = 1; i < arr.length; i++) assert.ok(arr[i - 1].score >= arr[i].score);
  }
  const none = await runCli(['fill-mask', dir, 'no mask here']);
  assert.equal(none.code, 1);
  assert.match(none.err, /no mask token/);
  const two = await runCli(['fill-mask', dir, '<mask> and <mask>']);
  assert.match(two.err, /2 mask tokens/);
});

test('slm classify: --json object, --pair, --jsonl batches equal to the library; embed stdin lines', async () => {
  const { dir } = await writeTinyEncoder('bert', 'sequence-classification');
  const one = await runCli(['classify', dir, 'a good movie', '--json', '--threads', '1']);
  assert.equal(one.code, 0, one.err);
  const o = JSON.parse(one.out);
  assert.deepEqual(Object.keys(o.scores), ['neg', 'neu', 'pos']);
  assert.ok(Math.abs(Object.values(o.scores as Record<string, number>).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  const pair = await runCli(['classify', dir, 'a good movie', '--pair', 'it was dull', '--json', '--threads', '1']);
  const lines = ['"a good movie"', '{"text": "a good movie", "text_pair": "it was dull"}', '"the cat sat"'].join('\n');
  const batch = await runCli(['classify', dir, '--jsonl', '--threads', '1'], lines);
  assert.equal(batch.code, 0, batch.err);
  const rs = batch.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rs.length, 3);
  assert.ok(Math.abs(rs[0].score - o.score) < 1e-6);
  assert.ok(Math.abs(rs[1].score - JSON.parse(pair.out).score) < 1e-6);
  const bad = await runCli(['classify', dir, '--jsonl'], '{"txt": 1}\n');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /stdin line 1/);
  const emb = await runCli(['embed', dir, '--json', '--threads', '1'], 'the cat sat\n\na good movie\n');
  assert.equal(emb.code, 0, emb.err);
  const vs = emb.out.trim().split('\n').map((l) => JSON.parse(l) as number[]);
  assert.equal(vs.length, 2);
  const m = await loadEncoder(dir, { threads: 1 });
  try {
    const ref = await m.embed(['the cat sat', 'a good movie']);
    assert.ok(vs.every((v, i) => v.length === 32 && v.every((x, j) => Math.abs(x - ref[i]![j]!) < 1e-6)));
  } finally {
    await m.dispose();
  }
  const long = await runCli(['embed', dir], `${Array(40).fill('cat').join(' ')}\n`);
  assert.equal(long.code, 1);
  assert.match(long.err, /position table holds 16.*--truncate/);
  const cut = await runCli(['embed', dir, '--truncate'], `${Array(40).fill('cat').join(' ')}\n`);
  assert.equal(cut.code, 0);
  assert.match(cut.err, /warning: .*truncated to 16/);
});
