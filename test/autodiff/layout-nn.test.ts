import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { Graph, HostTensor, Tensor } from '../../src/ir/index.ts';
import { quantizeBlockwise } from '../../src/quant/blockwise.ts';
import { hostTensor, toNumbers } from '../../src/interp/index.ts';
import { TOLERANCE, formatTable, gradCheck, project, type CheckResult, type GradCase } from './gradcheck.ts';
import { u } from './cases.ts';

const results: CheckResult[] = [];
after(() => console.log(`\nlayout / linear algebra / nn gradient checks (4-point central differences, h = 1e-4):\n${formatTable(results)}`));

function check(c: GradCase): void {
  test(`grad ${c.name}`, async (t) => {
    const r = await gradCheck(c);
    results.push(r);
    t.diagnostic(`${c.name}: max element rel err ${r.elementRel.toExponential(2)}, norm rel err ${r.normRel.toExponential(2)} over ${r.elements} elements`);
    assert.ok(r.elementRel <= TOLERANCE, `${c.name}: element-wise relative error ${r.elementRel} > ${TOLERANCE}`);
  });
}

/** A function of float64 inputs named x0, x1, ..., all differentiated. */
function fn(name: string, f: (...xs: Tensor[]) => Tensor, ...xs: HostTensor[]): void {
  const feeds: Record<string, HostTensor> = {};
  xs.forEach((x, i) => (feeds[`x${i}`] = x));
  check({
    name,
    feeds,
    build: (g: Graph) => {
      const ins = xs.map((x, i) => g.input(`x${i}`, 'float64', x.shape));
      return { loss: project(f(...ins)), wrt: ins };
    },
  });
}

const i64 = (shape: number[], v: number[]): HostTensor => hostTensor('int64', shape, v);

// --- linear algebra ---------------------------------------------------------------------
fn('matmul [2,3,4]@[4,2]', ir.matmul, u(1, [2, 3, 4]), u(2, [4, 2]));
fn('matmul batch broadcast [2,1,3,4]@[3,4,2]', ir.matmul, u(3, [2, 1, 3, 4]), u(4, [3, 4, 2]));
fn('linear x [2,3,4], W, bias', ir.linear, u(5, [2, 3, 4]), u(6, [5, 4]), u(7, [5]));
fn('linear x [4] (rank 1), no bias', (x, w) => ir.linear(x, w), u(8, [4]), u(9, [3, 4]));
check({
  name: 'linear q4 weight (grad to x only)',
  feeds: { x: u(10, [2, 32]) },
  build: (g) => {
    const x = g.input('x', 'float64', [2, 32]);
    const w = g.param('w', 'q4', [3, 32], quantizeBlockwise(Float32Array.from(toNumbers(u(11, [96]))), 3, 32, 'q4'));
    const b = g.param('b', 'float32', [3], hostTensor('float32', [3], [0.1, 0.2, 0.3]));
    return { loss: project(ir.cast(ir.linear(ir.cast(x, 'float32'), w, b), 'float64')), wrt: [x] };
  },
});

// --- layout -----------------------------------------------------------------------------
check({
  name: 'gather axis 0 (repeated indices)',
  feeds: { d: u(12, [4, 3]), i: i64([2, 3], [1, 3, 1, 0, -1, 1]) },
  build: (g) => {
    const d = g.input('d', 'float64', [4, 3]);
    const i = g.input('i', 'int64', [2, 3]);
    return { loss: project(ir.gather(d, i)), wrt: [d] };
  },
});
check({
  name: 'gather axis 1 (via transposes)',
  feeds: { d: u(13, [2, 4, 3]), i: i64([2], [3, 3]) },
  build: (g) => {
    const d = g.input('d', 'float64', [2, 4, 3]);
    const i = g.input('i', 'int64', [2]);
    return { loss: project(ir.gather(d, i, 1)), wrt: [d] };
  },
});
fn('reshape (0, -1)', (x) => ir.reshape(x, [0, -1]).mul(ir.reshape(x, [0, -1])), u(14, [2, 3, 2]));
fn('transpose', (x) => ir.transpose(x, [2, 0, 1]), u(15, [2, 3, 4]));
fn('slice middle', (x) => ir.slice(x, 1, 1, 3), u(16, [2, 4]));
fn('slice negative to the end', (x) => ir.slice(x, -1, -2, Infinity), u(17, [2, 4]));
fn('slice step 2', (x) => ir.slice(x, 0, 1, 6, 2), u(18, [6, 2]));
fn('concat', (a, b, c) => ir.concat([a, b, c], 1), u(19, [2, 1]), u(20, [2, 3]), u(21, [2, 2]));
fn('expand', (x) => ir.expand(x, [2, 3, 4]), u(22, [3, 1]));

// --- reductions, softmax, norms ---------------------------------------------------------
fn('reduce_sum axes [1]', (x) => ir.reduceSum(x, [1]), u(23, [2, 3, 2]));
fn('reduce_sum all, keepdims', (x) => ir.reduceSum(x, undefined, true).mul(x), u(24, [2, 3]));
fn('reduce_mean axes [0, 2] keepdims', (x) => ir.reduceMean(x, [0, -1], true), u(25, [2, 3, 2]));
fn('reduce_max axes [-1]', (x) => ir.reduceMax(x, [-1]), hostTensor('float64', [2, 3], [0.1, 0.9, -0.4, 0.7, 0.2, 0.3]));
fn('softmax axis -1', (x) => ir.softmax(x), u(26, [2, 4], -2, 2));
fn('softmax axis 0', (x) => ir.softmax(x, 0), u(27, [3, 2], -2, 2));
fn('log_softmax', (x) => ir.logSoftmax(x), u(28, [2, 4], -2, 2));
fn('rms_norm (x, weight)', (x, w) => ir.rmsNorm(x, w, 1e-5), u(29, [2, 3, 4]), u(30, [4], 0.5, 1.5));
fn('layer_norm (x, weight, bias)', (x, w, b) => ir.layerNorm(x, w, b, 1e-5), u(31, [2, 3, 4]), u(32, [4], 0.5, 1.5), u(33, [4]));
fn('layer_norm (no bias)', (x, w) => ir.layerNorm(x, w, null, 1e-3), u(34, [3, 5]), u(35, [5], 0.5, 1.5));

// --- rope -------------------------------------------------------------------------------
for (const [name, interleaved, rotaryDim] of [['rope rotate-half', false, 4], ['rope interleaved', true, 4], ['rope partial rotaryDim 2', false, 2]] as const) {
  check({
    name,
    feeds: { x: u(36, [2, 3, 8]), p: i64([2, 3], [0, 1, 2, 5, 7, 11]) },
    build: (g) => {
      const x = g.input('x', 'float64', [2, 3, 8]);
      const p = g.input('p', 'int64', [2, 3]);
      return { loss: project(ir.rope(x, p, { numHeads: 2, headDim: 4, rotaryDim, theta: 100, interleaved })), wrt: [x] };
    },
  });
}
// Scaled rope (Llama 3 frequency divisors, longrope's cos/sin factor): the gradient keeps both.
check({
  name: 'rope with freqFactors and attnFactor',
  feeds: { x: u(38, [2, 3, 8]), p: i64([2, 3], [0, 1, 2, 5, 7, 11]) },
  build: (g) => {
    const x = g.input('x', 'float64', [2, 3, 8]);
    const p = g.input('p', 'int64', [2, 3]);
    return { loss: project(ir.rope(x, p, { numHeads: 2, headDim: 4, theta: 100, freqFactors: [1, 3.5], attnFactor: 1.19 })), wrt: [x] };
  },
});

// --- cross entropy ----------------------------------------------------------------------
for (const [name, targets] of [
  ['cross_entropy', [2, 0, 4]],
  ['cross_entropy with ignored rows', [2, -100, 4]],
  ['cross_entropy all ignored (zero grad)', [-100, -100, -100]],
] as const) {
  check({
    name,
    feeds: { l: u(37, [3, 5], -2, 2), t: i64([3], [...targets]) },
    build: (g) => {
      const l = g.input('l', 'float64', [3, 5]);
      const t = g.input('t', 'int64', [3]);
      // scaled so the upstream gradient is not 1
      return { loss: ir.crossEntropy(l, t).mul(1.7), wrt: [l] };
    },
  });
}

test('cross_entropy gradient is softmax - onehot over non-ignored rows (hand check)', async () => {
  const { backward } = await import('../../src/autodiff/index.ts');
  const { evaluate } = await import('../../src/interp/index.ts');
  const g = new ir.Graph();
  const l = g.input('l', 'float64', [2, 2]);
  const t = g.input('t', 'int32', [2]);
  const [dl] = backward(ir.crossEntropy(l, t), [l]);
  const r = await evaluate(g, { l: hostTensor('float64', [2, 2], [0, Math.log(3), 5, 1]), t: hostTensor('int32', [2], [1, -100]) }, { outputs: [dl!] });
  // row 0: softmax [1/4, 3/4] - [0, 1], divided by 1 valid row; row 1 ignored
  const got = toNumbers(Object.values(r)[0]!);
  [0.25, -0.25, 0, 0].forEach((e, i) => assert.ok(Math.abs(got[i]! - e) < 1e-15, `${got}`));
});

// --- LM head + cross entropy: the factored gradient (src/autodiff/util.ts factoredGrads) ----
const headCase = (name: string, tied: boolean): GradCase => ({
  name,
  feeds: { x: u(41, [2, 3, 4]), w: u(42, [5, 4]), ids: i64([2, 3], [4, 0, 1, 1, 3, 2]), t: i64([6], [2, -100, 4, 0, 0, 3]) },
  build: (g) => {
    const x = g.input('x', 'float64', [2, 3, 4]);
    const w = g.input('w', 'float64', [5, 4]);
    const h = tied ? x.add(ir.gather(w, g.input('ids', 'int64', [2, 3]))) : x;
    const logits = ir.reshape(ir.linear(h, w), [6, 5]);
    return { loss: ir.crossEntropy(logits, g.input('t', 'int64', [6])).mul(1.3), wrt: [x, w] };
  },
});
check(headCase('linear head -> reshape -> cross_entropy (factored), ignored row', false));
check(headCase('tied embedding + linear head -> cross_entropy (factored)', true));

test('LM head gradient through cross_entropy makes no dense [N, V] one-hot, subtraction or scaling', async () => {
  const { backward } = await import('../../src/autodiff/index.ts');
  const g = new ir.Graph();
  const x = g.input('x', 'float32', [2, 3, 4]);
  const w = g.input('w', 'float32', [50, 4]);
  const loss = ir.crossEntropy(ir.reshape(ir.linear(x, w), [6, 50]), g.input('t', 'int64', [6]));
  const grads = backward(loss, [x, w]);
  const live = g.liveNodes(grads);
  const wide = live.filter((n) => n.outputs.some((o) => o.shape.at(-1) === 50 && o.shape.length >= 2 && (o.shape[0] === 6 || o.shape[1] === 3)));
  // the forward linear, log_softmax (CSE'd with the forward's), exp, reshapes: nothing else
  assert.deepEqual([...new Set(wide.map((n) => n.op))].sort(), ['exp', 'linear', 'log_softmax', 'reshape']);
});
