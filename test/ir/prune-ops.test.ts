// The token-pruning ops (top_k, gather_rows, gather_rows_grad): interpreter semantics by hand,
// onnxruntime against the interpreter at two sizes (one graph, k bound by a feed), and
// finite-difference gradient checks of gather_rows / gather_rows_grad.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import { Graph, type HostTensor } from '../../src/ir/index.ts';
import { evaluate, hostTensor, toNumbers } from '../../src/interp/index.ts';
import { Harness, TOL } from '../onnx/helpers.ts';
import { TOLERANCE, gradCheck, project } from '../autodiff/gradcheck.ts';
import { u } from '../autodiff/cases.ts';

const i64 = (shape: number[], v: number[]): HostTensor => hostTensor('int64', shape, v);

test('top_k / gather_rows / gather_rows_grad on the interpreter', async () => {
  const g = new Graph('prune');
  const s = g.input('s', 'float64', [2, 4]);
  const keep = g.input('keep', 'int64', ['k']);
  const x = g.input('x', 'float64', [2, 4, 2]);
  const idx = ir.topK(s, keep);
  const rows = ir.gatherRows(x, idx);
  g.setOutputs({ idx, rows, back: ir.gatherRowsGrad(rows, idx, x) });
  const out = await evaluate(g, {
    s: hostTensor('float64', [2, 4], [0.1, 0.9, 0.5, 0.9, 3, 2, 1, 0]),
    keep: i64([3], [0, 0, 0]),
    x: hostTensor('float64', [2, 4, 2], [0, 1, 10, 11, 20, 21, 30, 31, 100, 101, 110, 111, 120, 121, 130, 131]),
  });
  // Ties (0.9 at 1 and 3) go to the lower index first.
  assert.deepEqual(toNumbers(out.idx!), [1, 3, 2, 0, 1, 2]);
  assert.deepEqual(out.rows!.shape, [2, 3, 2]);
  assert.deepEqual(toNumbers(out.rows!), [10, 11, 30, 31, 20, 21, 100, 101, 110, 111, 120, 121]);
  assert.deepEqual(toNumbers(out.back!), [0, 0, 10, 11, 20, 21, 30, 31, 100, 101, 110, 111, 120, 121, 0, 0]);
});

const h = new Harness();
after(() => h.cleanup());

for (const dtype of ['float32', 'float64'] as const) {
  test(`top_k / gather_rows / gather_rows_grad on onnxruntime equal the interpreter (${dtype})`, async () => {
    const st = await h.check({
      name: `prune-${dtype}`,
      dtype,
      inputs: [
        { name: 's', dtype: 'F', shape: ['b', 's'] },
        { name: 'x', dtype: 'F', shape: ['b', 's', 3] },
        { name: 'keep', dtype: 'int64', shape: ['k'], gen: { kind: 'int', lo: 0, hi: 1 } },
        { name: 'gr', dtype: 'F', shape: ['b', 'k', 3] },
      ],
      build: ([s, x, keep, gr]) => {
        const idx = ir.topK(s!, keep!);
        const rows = ir.gatherRows(x!, idx);
        return { idx, rows, back: ir.gatherRowsGrad(gr!, idx, x!), flat: ir.gatherRows(s!.graph.addNode('reshape', [s!], { shape: [0, 0, 1] })[0]!, idx) };
      },
      envs: [
        { b: 2, s: 5, k: 3 },
        { b: 3, s: 7, k: 7 },
      ],
    });
    assert.ok(st.rel <= TOL[dtype], `rel ${st.rel}`);
  });
}

test('grad gather_rows (FD)', async () => {
  const r = await gradCheck({
    name: 'gather_rows',
    feeds: { x: u(31, [2, 5, 3]), i: i64([2, 3], [4, 0, 2, 1, 3, 0]) },
    build: (g) => {
      const x = g.input('x', 'float64', [2, 5, 3]);
      const i = g.input('i', 'int64', [2, 3]);
      return { loss: project(ir.gatherRows(x, i)), wrt: [x] };
    },
  });
  assert.ok(r.elementRel <= TOLERANCE, `rel err ${r.elementRel}`);
});

test('grad gather_rows_grad (FD) and through top_k-selected rows', async () => {
  const r = await gradCheck({
    name: 'gather_rows_grad',
    feeds: { gr: u(32, [2, 3, 2]), like: u(33, [2, 4, 2]), i: i64([2, 3], [3, 1, 0, 2, 0, 1]) },
    build: (g) => {
      const gr = g.input('gr', 'float64', [2, 3, 2]);
      const like = g.input('like', 'float64', [2, 4, 2]);
      const i = g.input('i', 'int64', [2, 3]);
      return { loss: project(ir.gatherRowsGrad(gr, i, like)), wrt: [gr] };
    },
  });
  assert.ok(r.elementRel <= TOLERANCE, `rel err ${r.elementRel}`);
  // Selection by the data's own row sums: the chosen set is locally constant, so the gradient
  // flows only through the gathered values (well separated scores keep the FD steps off ties).
  const r2 = await gradCheck({
    name: 'top_k then gather_rows',
    feeds: { x: hostTensor('float64', [1, 4, 2], [0.1, 0.2, 2.0, 2.1, -1, -1.1, 1.0, 1.2]), keep: i64([2], [0, 0]) },
    build: (g) => {
      const x = g.input('x', 'float64', [1, 4, 2]);
      const keep = g.input('keep', 'int64', [2]);
      const idx = ir.topK(ir.reduceSum(x, [2]), keep);
      return { loss: project(ir.gatherRows(x, idx).mul(ir.gatherRows(x, idx))), wrt: [x] };
    },
  });
  assert.ok(r2.elementRel <= TOLERANCE, `rel err ${r2.elementRel}`);
});
