// Shape and dtype mistakes are caught when the graph is built, with the op, the shapes
// and the caller's file:line in the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, linear, matmul, reshape, attention, concat, addDims, dimsEqual, canonicalDim } from '../../src/ir/index.ts';
import { GraphBuildError } from '../../src/errors.ts';

test('linear with mismatched features names op, shapes and call site', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 64]);
  const w = g.param('w', 'float32', [32, 48]);
  assert.throws(
    () => linear(x, w),
    (e: unknown) => e instanceof GraphBuildError && e.code === 'SHAPE_MISMATCH' && /linear/.test(e.message) && /\[batch, seq, 64\]/.test(e.message) && /\[32, 48\]/.test(e.message) && /build-errors\.test\.ts:\d+/.test(e.message),
  );
});

test('dtype mismatch is a DTYPE_MISMATCH error', () => {
  const g = new Graph();
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float64', [3, 4]);
  assert.throws(() => matmul(a, b), (e: unknown) => e instanceof GraphBuildError && e.code === 'DTYPE_MISMATCH');
});

test('attention checks head counts and cache layout', () => {
  const g = new Graph();
  const q = g.input('q', 'float32', [1, 'seq', 64]);
  const k = g.input('k', 'float32', [1, 'seq', 32]);
  assert.throws(() => attention(q, k, k, { numHeads: 4, numKvHeads: 3, headDim: 16, causal: true }), /multiple of numKvHeads/);
  const pk = g.input('pk', 'float32', [1, 2, 'past', 8]);
  assert.throws(() => attention(q, k, k, { numHeads: 4, numKvHeads: 2, headDim: 16, causal: true, past: { k: pk, v: pk } }), /pastK must be/);
  const ok = attention(q, k, k, { numHeads: 4, numKvHeads: 2, headDim: 16, causal: true, past: { k: g.input('pk2', 'float32', [1, 2, 'past', 16]), v: g.input('pv2', 'float32', [1, 2, 'past', 16]) } });
  assert.deepEqual(ok.present!.k.shape, [1, 2, 'past+seq', 16]);
});

test('symbolic dims: sums are canonical, reshape infers -1 from symbols', () => {
  assert.equal(canonicalDim('seq+past'), 'past+seq');
  assert.equal(addDims('past', 'seq'), 'past+seq');
  assert.equal(dimsEqual('past+seq', 'seq+past'), true);
  assert.equal(dimsEqual(3, 4), false);
  assert.equal(dimsEqual('seq', 4), undefined);
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  assert.deepEqual(reshape(x, [0, 0, 2, -1]).shape, ['batch', 'seq', 2, 4]);
  assert.deepEqual(reshape(x, ['batch', -1, 8]).shape, ['batch', 'seq', 8]);
  // seq*8 is not expressible: a clear error rather than a wrong declared shape
  assert.throws(() => reshape(x, ['batch', -1]), /product of symbolic dims/);
  assert.throws(() => reshape(g.input('y', 'float32', [4, 6]), [5, -1]), /cannot reshape/);
  const c = concat([x, g.input('z', 'float32', ['batch', 'more', 8])], 1);
  assert.deepEqual(c.shape, ['batch', 'more+seq', 8]);
});

test('graph names are unique and unknown ops are rejected', () => {
  const g = new Graph();
  g.input('x', 'float32', [1]);
  assert.throws(() => g.input('x', 'float32', [1]), /already used/);
  assert.throws(() => g.addNode('no_such_op', []), /unknown op/);
});
