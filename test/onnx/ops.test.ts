// Every IR op lowered to ONNX and run on onnxruntime, against the float64 reference
// interpreter. Each case compiles one graph with symbolic dims and runs it at two sizes.
// Float cases run in float32 and float64 (onnxruntime's double kernels; where an op has
// none, the lowering writes it out in standard ops, see lower-*.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { Tensor } from '../../src/ir/index.ts';
import { OP_NAMES } from '../../src/ir/index.ts';
import { missingLowerings } from '../../src/onnx/lower.ts';
import { Harness, POS, TOL, U, fmt, type InputSpec } from './helpers.ts';

const h = new Harness();
after(() => h.cleanup());

const ENVS = [
  { b: 2, s: 3 },
  { b: 1, s: 5 },
];
const DTYPES = ['float32', 'float64'] as const;

interface Case {
  name: string;
  inputs: InputSpec[];
  build: (x: Tensor[]) => Tensor | Record<string, Tensor>;
  dtypes?: readonly ('float32' | 'float64')[];
  /** Per-dtype tolerance where a case documents why it differs from TOL. */
  tol?: Partial<Record<'float32' | 'float64', number>>;
  envs?: Record<string, number>[];
}

const X = (gen = U, shape: ir.Dim[] = ['b', 's', 8], name = 'x'): InputSpec => ({ name, dtype: 'F', shape, gen });
const unaryCase = (op: string, gen = U): Case => ({ name: op, inputs: [X(gen)], build: ([x]) => x!.graph.addNode(op, [x!])[0]! });
const binaryCase = (op: string, genB = U, genA = U): Case => ({
  name: op,
  inputs: [X(genA), X(genB, [8], 'y')],
  build: ([a, b]) => a!.graph.addNode(op, [a!, b!])[0]!,
});

const CASES: Case[] = [
  // elementwise
  binaryCase('add'),
  binaryCase('sub'),
  binaryCase('mul'),
  binaryCase('div', POS),
  binaryCase('pow', U, POS),
  binaryCase('maximum'),
  binaryCase('minimum'),
  { name: 'add broadcast [b,s,1]+[1,s,8]', inputs: [X(U, ['b', 's', 1]), X(U, [1, 's', 8], 'y')], build: ([a, b]) => ir.add(a!, b!) },
  { name: 'less/greater', inputs: [X(), X(U, ['b', 's', 8], 'y')], build: ([a, b]) => ({ lt: ir.less(a!, b!), gt: ir.greater(a!, b!) }) },
  {
    name: 'equal (int64) and/or/not',
    dtypes: ['float32'],
    inputs: [
      { name: 'i', dtype: 'int64', shape: ['b', 's'], gen: { kind: 'int', lo: 0, hi: 3 } },
      { name: 'j', dtype: 'int64', shape: ['b', 's'], gen: { kind: 'int', lo: 0, hi: 3 } },
      { name: 'p', dtype: 'bool', shape: ['b', 's'] },
    ],
    build: ([i, j, p]) => {
      const eq = ir.equal(i!, j!);
      return { eq, and: ir.and(eq, p!), or: ir.or(eq, p!), not: ir.not(p!) };
    },
  },
  {
    name: 'neg/abs/add on int32',
    dtypes: ['float32'],
    inputs: [{ name: 'i', dtype: 'int32', shape: ['b', 's'], gen: { kind: 'int', lo: -9, hi: 9 } }],
    build: ([i]) => ({ neg: ir.neg(i!), abs: ir.abs(i!), add: ir.add(i!, 3) }),
  },
  unaryCase('neg'),
  unaryCase('abs'),
  unaryCase('exp'),
  unaryCase('log', POS),
  unaryCase('sqrt', POS),
  unaryCase('rsqrt', POS),
  unaryCase('reciprocal', POS),
  unaryCase('tanh'),
  unaryCase('sigmoid'),
  unaryCase('erf'),
  unaryCase('relu'),
  unaryCase('silu'),
  unaryCase('quick_gelu'),
  { name: 'gelu none', inputs: [X()], build: ([x]) => ir.gelu(x!, 'none') },
  { name: 'gelu tanh', inputs: [X()], build: ([x]) => ir.gelu(x!, 'tanh') },
  { name: 'identity (output of an input)', inputs: [X()], build: ([x]) => ({ same: ir.identity(x!), twice: ir.identity(ir.exp(x!)) }) },
  {
    name: 'cast',
    inputs: [X({ kind: 'float', lo: -6, hi: 6 })],
    build: ([x]) => ({
      i32: ir.cast(x!, 'int32'),
      i64: ir.cast(x!, 'int64'),
      back: ir.cast(ir.cast(x!, 'int64'), x!.dtype),
      bool: ir.cast(x!, 'bool'),
      same: ir.cast(ir.cast(x!, 'float64'), x!.dtype),
    }),
  },
  {
    // The oracle keeps float64 values through a narrowing cast (it does not model storage
    // rounding); onnxruntime rounds. Tolerance: half an ulp of float16, 2^-11 relative.
    name: 'cast narrowing (float16, float32)',
    inputs: [X({ kind: 'float', lo: -6, hi: 6 })],
    build: ([x]) => ({
      f16: ir.cast(ir.cast(x!, 'float16'), x!.dtype),
      f32: ir.cast(ir.cast(x!, 'float32'), x!.dtype),
    }),
    tol: { float32: 2 ** -11, float64: 2 ** -11 },
  },
  { name: 'where', inputs: [{ name: 'c', dtype: 'bool', shape: ['b', 's', 1] }, X(), X(U, [8], 'y')], build: ([c, a, b]) => ir.where(c!, a!, b!) },

  // linear algebra (linear with quantized weights: see linear.test.ts)
  { name: 'matmul [b,s,8]@[8,5]', inputs: [X(), X(U, [8, 5], 'w')], build: ([a, b]) => ir.matmul(a!, b!) },
  {
    name: 'matmul batched [b,2,s,4]@[b,2,4,s]',
    inputs: [X(U, ['b', 2, 's', 4]), X(U, ['b', 2, 4, 's'], 'y')],
    build: ([a, b]) => ir.matmul(a!, b!),
  },
  {
    // onnxruntime's fusions would fold the scalar Div into MatMul's float32 alpha; float64
    // graphs are compiled without fusions so this stays at double precision.
    name: 'matmul after a scalar div (fusion hazard)',
    inputs: [X(), X(U, [8, 5], 'w')],
    build: ([a, b]) => ir.add(ir.matmul(ir.div(a!, 3), b!), 0.7),
  },
  { name: 'linear (input weight, bias)', inputs: [X(), X(U, [5, 8], 'w'), X(U, [5], 'bias')], build: ([x, w, b]) => ir.linear(x!, w!, b!) },

  // indexing and layout
  {
    name: 'gather embedding',
    inputs: [X(U, [10, 8], 'emb'), { name: 'ids', dtype: 'int64', shape: ['b', 's'], gen: { kind: 'int', lo: 0, hi: 10 } }],
    build: ([e, i]) => ir.gather(e!, i!),
  },
  {
    name: 'gather axis 1 int32 negative',
    inputs: [X(), { name: 'ids', dtype: 'int32', shape: [4], gen: { kind: 'int', lo: -3, hi: 3 } }],
    build: ([x, i]) => ir.gather(x!, i!, 1),
  },
  {
    name: 'gather_grad (repeated ids)',
    inputs: [X(), { name: 'ids', dtype: 'int64', shape: ['b', 's'], gen: { kind: 'int', lo: 0, hi: 4 } }],
    build: ([g, i]) => ir.gatherGrad(g!, i!, 6),
  },
  {
    name: 'gather_grad int32 1-D',
    inputs: [X(U, ['s', 8]), { name: 'ids', dtype: 'int32', shape: ['s'], gen: { kind: 'int', lo: 0, hi: 3 } }],
    build: ([g, i]) => ir.gatherGrad(g!, i!, 3),
  },
  {
    name: 'reshape symbolic',
    inputs: [X()],
    build: ([x]) => ({
      split: ir.reshape(x!, ['b', 's', 2, 4]),
      inferred: ir.reshape(x!, ['b', -1, 8]),
      sym2: ir.reshape(ir.reshape(x!, ['b', 's', 2, 4]), ['b', 's', 8]),
    }),
  },
  { name: 'transpose', inputs: [X(U, ['b', 's', 2, 4])], build: ([x]) => ir.transpose(x!, [2, 0, 3, 1]) },
  {
    name: 'slice',
    inputs: [X()],
    build: ([x]) => ({
      mid: ir.slice(x!, 2, 1, 6),
      step: ir.slice(x!, 2, 0, 8, 3),
      neg: ir.slice(x!, -1, -3, -1),
      toEnd: ir.slice(x!, 1, 1, Infinity),
      head: ir.slice(x!, 1, 0, 1),
    }),
  },
  {
    name: 'concat',
    inputs: [X(), X(U, ['b', 's', 3], 'y'), X(U, ['b', 2, 8], 'z')],
    build: ([x, y, z]) => ({ last: ir.concat([x!, y!], 2), seq: ir.concat([x!, z!, x!], 1) }),
  },
  {
    name: 'expand',
    inputs: [X(U, ['b', 1, 8]), X(U, [1, 's', 1], 'y')],
    build: ([x, y]) => ({ toS: ir.expand(x!, ['b', 's', 8]), rank: ir.expand(y!, [2, 'b', 's', 3]) }),
  },

  // reductions and normalization
  {
    name: 'reduce_sum',
    inputs: [X()],
    build: ([x]) => ({ last: ir.reduceSum(x!, [-1]), keep: ir.reduceSum(x!, [0, 2], true), all: ir.reduceSum(x!) }),
  },
  {
    name: 'reduce_mean',
    inputs: [X()],
    build: ([x]) => ({ last: ir.reduceMean(x!, [-1]), keep: ir.reduceMean(x!, [1], true), all: ir.reduceMean(x!) }),
  },
  {
    name: 'reduce_max',
    inputs: [X()],
    build: ([x]) => ({ last: ir.reduceMax(x!, [-1]), keep: ir.reduceMax(x!, [0, 1], true), all: ir.reduceMax(x!) }),
  },
  {
    name: 'reduce_sum int64',
    dtypes: ['float32'],
    inputs: [{ name: 'i', dtype: 'int64', shape: ['b', 's'] }],
    build: ([i]) => ir.reduceSum(i!, [1]),
  },
  { name: 'softmax', inputs: [X(U, ['b', 's', 8])], build: ([x]) => ({ last: ir.softmax(x!), mid: ir.softmax(x!, 1) }) },
  { name: 'log_softmax', inputs: [X(U, ['b', 's', 8])], build: ([x]) => ({ last: ir.logSoftmax(x!), first: ir.logSoftmax(x!, 0) }) },
  { name: 'rms_norm', inputs: [X(), X(U, [8], 'w')], build: ([x, w]) => ir.rmsNorm(x!, w!, 1e-6) },
  {
    name: 'layer_norm',
    inputs: [X(), X(U, [8], 'w'), X(U, [8], 'bias')],
    build: ([x, w, b]) => ({ withBias: ir.layerNorm(x!, w!, b!, 1e-5), noBias: ir.layerNorm(x!, w!, null, 1e-5) }),
  },

  // loss
  {
    name: 'cross_entropy',
    inputs: [X({ kind: 'float', lo: -4, hi: 4 }, ['n', 11]), { name: 't', dtype: 'int64', shape: ['n'], gen: { kind: 'int', lo: -1, hi: 11 } }],
    // targets -1 map to the ignore index below, so some rows are skipped
    build: ([l, t]) => ir.crossEntropy(l!, t!, -1),
    envs: [{ n: 7 }, { n: 3 }],
  },
  {
    name: 'cross_entropy int32 targets, default ignore',
    inputs: [X(U, ['n', 6]), { name: 't', dtype: 'int32', shape: ['n'], gen: { kind: 'int', lo: 0, hi: 6 } }],
    build: ([l, t]) => ir.crossEntropy(l!, t!),
    envs: [{ n: 4 }, { n: 9 }],
  },
];

test('every IR op has an ONNX lowering', () => {
  assert.deepEqual(missingLowerings(), []);
  assert.ok(OP_NAMES.length > 40);
});

for (const c of CASES) {
  for (const dtype of c.dtypes ?? DTYPES) {
    test(`${c.name} (${dtype})`, async (t) => {
      const s = await h.check({
        name: c.name.replace(/\W+/g, '_'),
        dtype,
        inputs: c.inputs,
        envs: c.envs ?? ENVS,
        build: (ins) => {
          const r = c.build(ins);
          return r instanceof ir.Tensor ? { out: r } : r;
        },
      });
      const tol = c.tol?.[dtype] ?? TOL[dtype];
      t.diagnostic(`${c.name} ${dtype}: ${fmt(s)}`);
      assert.ok(s.rel <= tol, `${c.name} ${dtype}: ${fmt(s)} exceeds ${tol}`);
    });
  }
}
