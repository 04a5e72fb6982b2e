// compile(): the on-disk model cache, external data layout, half-precision weights, errors.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ir from '../../src/ir/index.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { evaluate } from '../../src/interp/index.ts';
import { quantizeBlockwise } from '../../src/quant/blockwise.ts';
import { f32ArrayToBf16, f32ArrayToF16 } from '../../src/formats/half.ts';
import { compile } from '../../src/runtime/session.ts';
import { defaultCacheDir, DATA_FILE } from '../../src/runtime/cache.ts';
import { lowerGraph, DATA_ALIGNMENT } from '../../src/onnx/lower.ts';
import { AbortError, UnsupportedError } from '../../src/errors.ts';
import { Harness, compareTensors, randomUniform, TOL } from './helpers.ts';

const h = new Harness();
after(() => h.cleanup());

function mlp(hidden: number, weights: Record<string, HostTensor | ir.QuantizedWeight>): ir.Graph {
  const g = new ir.Graph('mlp');
  const x = g.input('x', 'float32', ['b', hidden]);
  const up = g.param('up', weights.up!.dtype, [4 * hidden, hidden], weights.up);
  const down = g.param('down', 'float32', [hidden, 4 * hidden], weights.down);
  const norm = g.param('norm', 'float32', [hidden], weights.norm);
  g.setOutputs({ y: ir.linear(ir.silu(ir.linear(ir.rmsNorm(x, norm, 1e-6), up)), down) });
  return g;
}

function weights(hidden: number, seed: number): Record<string, HostTensor | ir.QuantizedWeight> {
  return {
    up: quantizeBlockwise(randomUniform(seed, [4 * hidden, hidden], -0.1, 0.1, 'float32').data as Float32Array, 4 * hidden, hidden, 'q4'),
    down: randomUniform(seed + 1, [hidden, 4 * hidden], -0.1, 0.1, 'float32'),
    norm: randomUniform(seed + 2, [hidden], 0.5, 1.5, 'float32'),
  };
}

test('a second compile of the same graph and weights hits the disk cache', async (t) => {
  const dir = join(h.cacheDir, 'cache-hit');
  const w = weights(512, 1);
  const t0 = performance.now();
  const a = await compile(mlp(512, w), { cacheDir: dir, threads: 1 });
  const first = performance.now() - t0;
  const t1 = performance.now();
  const b = await compile(mlp(512, w), { cacheDir: dir, threads: 1 });
  const second = performance.now() - t1;
  t.diagnostic(`first compile ${first.toFixed(0)} ms (wrote model), second ${second.toFixed(0)} ms (cache hit)`);
  assert.equal(a.cacheHit, false);
  assert.equal(b.cacheHit, true);
  assert.equal(a.modelPath, b.modelPath);
  assert.equal(readdirSync(dir).length, 1, 'one entry, no temp folders left');
  const x = randomUniform(5, [3, 512], -1, 1, 'float32');
  const ya = (await a.run({ x })).y!;
  const yb = (await b.run({ x })).y!;
  assert.deepEqual(ya.data, yb.data);
  await a.dispose();
  await b.dispose();

  // Other weight bytes: another entry. Same bytes under a version key: yet another (the key
  // names the weights instead of hashing them).
  const c = await compile(mlp(512, weights(512, 2)), { cacheDir: dir, threads: 1 });
  assert.equal(c.cacheHit, false);
  await c.dispose();
  const d1 = await compile(mlp(512, w), { cacheDir: dir, threads: 1, weightsVersion: 'v1' });
  const d2 = await compile(mlp(512, weights(512, 3)), { cacheDir: dir, threads: 1, weightsVersion: 'v1' });
  assert.equal(d1.cacheHit, false);
  assert.equal(d2.cacheHit, true, 'weightsVersion stands for the content');
  await d1.dispose();
  await d2.dispose();
  assert.equal(readdirSync(dir).length, 3);
});

test('weights are external, 4 KiB aligned, in one data file; the model proto stays small', async () => {
  const g = mlp(256, weights(256, 4));
  const lowered = lowerGraph(g);
  assert.equal(lowered.initializers.length, 4); // up codes, up scales, downᵀ, norm
  for (const i of lowered.initializers) assert.equal(i.offset % DATA_ALIGNMENT, 0, i.name);
  const cg = await compile(g, { cacheDir: join(h.cacheDir, 'layout'), threads: 1 });
  const dir = join(cg.modelPath, '..');
  assert.equal(statSync(join(dir, DATA_FILE)).size, lowered.dataSize);
  assert.ok(statSync(cg.modelPath).size < 16 * 1024, `model proto is ${statSync(cg.modelPath).size} bytes`);
  await cg.dispose();
});

test('cacheDir false builds into a private folder removed on dispose', async () => {
  const cg = await compile(mlp(64, weights(64, 5)), { cacheDir: false, threads: 1 });
  const dir = join(cg.modelPath, '..');
  assert.ok(existsSync(dir));
  await cg.dispose();
  assert.ok(!existsSync(dir));
});

test('default cache dir follows $SLMKIT_CACHE', () => {
  const saved = process.env.SLMKIT_CACHE;
  try {
    process.env.SLMKIT_CACHE = '/some/where';
    assert.equal(defaultCacheDir(), join('/some/where', 'onnx'));
    delete process.env.SLMKIT_CACHE;
    assert.match(defaultCacheDir(), /\.cache[\\/]slmkit[\\/]onnx$/);
  } finally {
    if (saved === undefined) delete process.env.SLMKIT_CACHE;
    else process.env.SLMKIT_CACHE = saved;
  }
});

for (const half of ['float16', 'bfloat16'] as const) {
  test(`${half} weights stay ${half} on disk and are cast to float32 after load`, async (t) => {
    const dense = randomUniform(7, [24, 32], -1, 1, 'float32').data as Float32Array;
    const w: HostTensor = { dtype: half, shape: [24, 32], data: half === 'float16' ? f32ArrayToF16(dense) : f32ArrayToBf16(dense) };
    const g = new ir.Graph('half');
    const x = g.input('x', 'float32', ['b', 32]);
    const wp = g.param('w', half, [24, 32], w);
    g.setOutputs({ y: ir.linear(x, ir.cast(wp, 'float32')) });
    const lowered = lowerGraph(g);
    assert.equal(lowered.dataSize, 24 * 32 * 2);
    const cg = await compile(g, { cacheDir: h.cacheDir, threads: 1 });
    const feeds = { x: randomUniform(8, [3, 32], -1, 1, 'float32') };
    const c = compareTensors('y', (await cg.run(feeds)).y!, (await evaluate(g, feeds)).y!);
    await cg.dispose();
    t.diagnostic(`${half} weights: max abs err ${c.maxAbs.toExponential(2)}`);
    assert.ok(c.maxAbs / Math.max(1, c.maxRef) <= TOL.float32);
  });
}

test('a float16 graph input and output round-trip through float32 compute', async () => {
  const g = new ir.Graph('f16io');
  const x = g.input('x', 'float16', ['n']);
  g.setOutputs({ y: ir.mul(x, x) });
  const cg = await compile(g, { cacheDir: h.cacheDir, threads: 1 });
  const y = (await cg.run({ x: { dtype: 'float16', shape: [3], data: f32ArrayToF16([1.5, -2, 0.25]) } })).y!;
  await cg.dispose();
  assert.equal(y.dtype, 'float16');
  assert.deepEqual(Array.from(y.data as Uint16Array), Array.from(f32ArrayToF16([2.25, 4, 0.0625])));
});

test('lowering errors name the op and the model code that built it', () => {
  const g = new ir.Graph('bad');
  const x = g.input('x', 'float32', ['b', 8]);
  g.setOutputs({ y: ir.expand(x, ['nowhere', 'b', 8]) });
  assert.throws(
    () => lowerGraph(g),
    (e: unknown) => e instanceof UnsupportedError && /op 'expand'/.test(e.message) && /compile\.test\.ts:\d+/.test(e.message) && /nowhere/.test(e.message),
  );
});

test('missing weights, bad feeds and aborts are reported', async () => {
  const g = new ir.Graph('nodata');
  const x = g.input('x', 'float32', ['b', 4]);
  g.setOutputs({ y: ir.linear(x, g.param('w', 'float32', [2, 4])) });
  await assert.rejects(compile(g, { cacheDir: h.cacheDir }), /param 'w' has no data/);
  await assert.rejects(compile(g, { cacheDir: h.cacheDir, params: { w: randomUniform(1, [4, 2], -1, 1, 'float32') } }), /shape/);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(compile(g, { cacheDir: h.cacheDir, signal: ac.signal }), AbortError);

  const cg = await compile(g, { cacheDir: h.cacheDir, threads: 1, params: { w: randomUniform(1, [2, 4], -1, 1, 'float32') } });
  await assert.rejects(cg.run({}), /missing feed 'x'/);
  await assert.rejects(cg.run({ x: randomUniform(1, [3, 5], -1, 1, 'float32') }), /shape/);
  await assert.rejects(cg.run({ x: randomUniform(1, [3, 4], -1, 1, 'float64') }), /float64/);
  await cg.dispose();
});
