import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { Graph, HostTensor, Tensor } from '../../src/ir/index.ts';
import { TOLERANCE, formatTable, gradCheck, project, type CheckResult, type GradCase } from './gradcheck.ts';
import { awayFromZero, notTied, u } from './cases.ts';

const results: CheckResult[] = [];
after(() => console.log(`\nelementwise gradient checks (4-point central differences, h = 1e-4):\n${formatTable(results)}`));

function check(c: GradCase): void {
  test(`grad ${c.name}`, async (t) => {
    const r = await gradCheck(c);
    results.push(r);
    t.diagnostic(`${c.name}: max element rel err ${r.elementRel.toExponential(2)}, norm rel err ${r.normRel.toExponential(2)} over ${r.elements} elements`);
    assert.ok(r.elementRel <= TOLERANCE, `${c.name}: element-wise relative error ${r.elementRel} > ${TOLERANCE}`);
  });
}

/** One unary op on x [2, 3]. */
function unary(name: string, f: (x: Tensor) => Tensor, x: HostTensor): void {
  check({
    name,
    feeds: { x },
    build: (g: Graph) => {
      const xi = g.input('x', 'float64', x.shape);
      return { loss: project(f(xi)), wrt: [xi] };
    },
  });
}

/** One binary op, a [2, 3] with b broadcast from bShape. */
function binary(name: string, f: (a: Tensor, b: Tensor) => Tensor, a: HostTensor, b: HostTensor): void {
  check({
    name,
    feeds: { a, b },
    build: (g: Graph) => {
      const ai = g.input('a', 'float64', a.shape);
      const bi = g.input('b', 'float64', b.shape);
      return { loss: project(f(ai, bi)), wrt: [ai, bi] };
    },
  });
}

const S = [2, 3];
binary('add (broadcast [3])', ir.add, u(1, S), u(2, [3]));
binary('sub (broadcast [2,1])', ir.sub, u(3, S), u(4, [2, 1]));
binary('mul (broadcast [2,3,1] x [3,4])', ir.mul, u(5, [2, 3, 1]), u(6, [3, 4]));
binary('div', ir.div, u(7, S), awayFromZero(8, [3], 0.5, 2));
binary('pow (tensor exponent)', ir.pow, u(9, S, 0.5, 2), u(10, S, -1.5, 2));
unary('pow (constant exponent)', (x) => ir.pow(x, 3), u(11, S));
const ma = u(12, S);
binary('maximum', ir.maximum, ma, notTied(ma, 13));
binary('minimum', ir.minimum, ma, notTied(ma, 14));
// b [3] against a [2, 3]: columns 0 and 1 mix winners, column 2 is all b (no ties within 2h)
const f = (shape: number[], v: number[]): HostTensor => ({ dtype: 'float64', shape, data: Float64Array.from(v) });
binary('maximum (broadcast)', ir.maximum, f(S, [0.3, -0.7, 0.9, -0.2, 0.5, -0.4]), f([3], [0, 0.1, 2]));
binary('minimum (broadcast)', ir.minimum, f(S, [0.3, -0.7, 0.9, -0.2, 0.5, -0.4]), f([3], [0, 0.1, 2]));
unary('neg', ir.neg, u(20, S));
unary('abs', ir.abs, awayFromZero(21, S));
unary('exp', ir.exp, u(22, S));
unary('log', ir.log, u(23, S, 0.2, 3));
unary('sqrt', ir.sqrt, u(24, S, 0.2, 3));
unary('rsqrt', ir.rsqrt, u(25, S, 0.2, 3));
unary('reciprocal', ir.reciprocal, awayFromZero(26, S, 0.3, 2));
unary('tanh', ir.tanh, u(27, S, -2, 2));
unary('sigmoid', ir.sigmoid, u(28, S, -3, 3));
unary('erf', ir.erf, u(29, S, -2, 2));
unary('relu', ir.relu, awayFromZero(30, S));
unary('silu', ir.silu, u(31, S, -3, 3));
unary('gelu none', (x) => ir.gelu(x, 'none'), u(32, S, -3, 3));
unary('gelu tanh', (x) => ir.gelu(x, 'tanh'), u(33, S, -3, 3));
unary('quick_gelu', ir.quickGelu, u(34, S, -3, 3));
unary('identity', (x) => ir.identity(x).mul(x), u(35, S)); // x used twice: accumulation
unary('cast f64->f32->f64', (x) => ir.cast(ir.cast(x, 'float32').mul(2), 'float64'), u(36, S));

check({
  name: 'where (to a and b, broadcast)',
  feeds: { c: { dtype: 'bool', shape: [2, 1], data: Uint8Array.from([1, 0]) }, a: u(40, S), b: u(41, [3]) },
  build: (g) => {
    const c = g.input('c', 'bool', [2, 1]);
    const a = g.input('a', 'float64', S);
    const b = g.input('b', 'float64', [3]);
    return { loss: project(ir.where(c, a, b)), wrt: [a, b] };
  },
});

test('comparisons pass no gradient; unreachable wrt gets zeros of its shape', async () => {
  const { backward } = await import('../../src/autodiff/index.ts');
  const { evaluate, toNumbers } = await import('../../src/interp/index.ts');
  const g = new ir.Graph();
  const x = g.input('x', 'float64', [3]);
  const y = g.input('y', 'float64', [2, 2]);
  const mask = ir.cast(ir.greater(x, 0), 'float64');
  const loss = ir.reduceSum(mask.mul(x));
  const [dx, dy] = backward(loss, [x, y]);
  const r = await evaluate(g, { x: u(50, [3]), y: u(51, [2, 2]) }, { outputs: [dx!, dy!] });
  const xs = Array.from(u(50, [3]).data as Float64Array);
  assert.deepEqual(toNumbers(Object.values(r)[0]!), xs.map((v) => (v > 0 ? 1 : 0)));
  assert.deepEqual(Object.values(r)[1]!.shape, [2, 2]);
  assert.deepEqual(toNumbers(Object.values(r)[1]!), [0, 0, 0, 0]);
  assert.throws(() => backward(x, [x]), /scalar/);
});
