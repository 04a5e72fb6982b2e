import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import { evaluate, randomNormal, randomUniform, toNumbers } from '../../src/interp/index.ts';
import { quantizeBlockwise, dequantizeBlockwise } from '../../src/quant/blockwise.ts';
import { assertClose, f64, i64 } from './helpers.ts';

const { Graph } = ir;

test('reductions honour axes and keepdims', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3]);
  const n = g.input('n', 'int64', [3]);
  g.setOutputs({ s: ir.reduceSum(x, [1], true), m: ir.reduceMean(x, [0]), mx: ir.reduceMax(x), mxn: ir.reduceMax(x, [-1]), si: ir.reduceSum(n) });
  const r = await evaluate(g, { x: f64([2, 3], [1, 2, 3, 4, 9, 6]), n: i64([3], [1, 2, 3]) });
  assert.deepEqual(r.s!.shape, [2, 1]);
  assertClose(r.s!, [6, 19]);
  assert.deepEqual(r.m!.shape, [3]);
  assertClose(r.m!, [2.5, 5.5, 4.5]);
  assert.deepEqual(r.mx!.shape, []);
  assertClose(r.mx!, [9]);
  assertClose(r.mxn!, [3, 9]);
  assert.equal(r.si!.dtype, 'int64');
  assert.deepEqual(toNumbers(r.si!), [6]);
});

test('softmax / log_softmax along any axis', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 3]);
  g.setOutputs({ s: ir.softmax(x), ls: ir.logSoftmax(x), s0: ir.softmax(x, 0) });
  const l2 = Math.log(2);
  const l3 = Math.log(3);
  const r = await evaluate(g, { x: f64([2, 3], [0, l2, l3, 1000, 1000, 1000]) });
  assertClose(r.s!, [1 / 6, 2 / 6, 3 / 6, 1 / 3, 1 / 3, 1 / 3]);
  assertClose(r.ls!, [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6), -Math.log(3), -Math.log(3), -Math.log(3)]);
  assertClose(r.s0!, [0, 0, 0, 1, 1, 1]); // e^-1000 underflows to 0 exactly
});

test('rms_norm and layer_norm (population variance) on hand-computed rows', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [2, 2]);
  const w = g.input('w', 'float64', [2]);
  const y = g.input('y', 'float64', [4]);
  const lw = g.input('lw', 'float64', [4]);
  const lb = g.input('lb', 'float64', [4]);
  g.setOutputs({ rms: ir.rmsNorm(x, w, 0.5), ln: ir.layerNorm(y, lw, lb, 0.25), ln0: ir.layerNorm(y, lw, null, 0.25) });
  const r = await evaluate(g, { x: f64([2, 2], [3, 4, 1, -1]), w: f64([2], [1, 2]), y: f64([4], [1, 2, 3, 4]), lw: f64([4], [1, 1, 2, 2]), lb: f64([4], [0, 0, 0, 1]) });
  // row [3, 4]: mean square 12.5 (+0.5) -> 13; row [1, -1]: 1 (+0.5) -> 1.5
  assertClose(r.rms!, [3 / Math.sqrt(13), 8 / Math.sqrt(13), 1 / Math.sqrt(1.5), -2 / Math.sqrt(1.5)]);
  // mean 2.5, variance 1.25 (+0.25) -> 1.5
  const d = Math.sqrt(1.5);
  assertClose(r.ln!, [-1.5 / d, -0.5 / d, 1 / d, 3 / d + 1]);
  assertClose(r.ln0!, [-1.5 / d, -0.5 / d, 1 / d, 3 / d]);
});

test('rope: rotate-half vs interleaved pairs, partial rotary, inverse', async () => {
  // 2 heads of 6 dims, rotaryDim 4, theta 4: inv_freq = [1, 4^-0.5 = 0.5]; positions 0 and 2.
  const opts = { numHeads: 2, headDim: 6, rotaryDim: 4, theta: 4 };
  const g = new Graph();
  const x = g.input('x', 'float64', [1, 2, 12]);
  const p = g.input('p', 'int64', [1, 2]);
  const half = ir.rope(x, p, opts);
  const inter = ir.rope(x, p, { ...opts, interleaved: true });
  g.setOutputs({ half, inter, undo: ir.rope(half, p, { ...opts, inverse: true }), undoI: ir.rope(inter, p, { ...opts, interleaved: true, inverse: true }) });
  const xs = Array.from({ length: 24 }, (_, i) => (i % 7) - 3 + i / 10);
  const r = await evaluate(g, { x: f64([1, 2, 12], xs), p: i64([1, 2], [0, 2]) });
  const [c0, s0, c1, s1] = [Math.cos(2), Math.sin(2), Math.cos(1), Math.sin(1)];
  const expHalf: number[] = [];
  const expInter: number[] = [];
  for (let s = 0; s < 2; s++) {
    for (let h = 0; h < 2; h++) {
      const v = xs.slice(s * 12 + h * 6, s * 12 + h * 6 + 6);
      if (s === 0) {
        expHalf.push(...v); // position 0: identity
        expInter.push(...v);
        continue;
      }
      // rotate-half pairs (0,2) at angle 2 and (1,3) at angle 1
      expHalf.push(v[0]! * c0 - v[2]! * s0, v[1]! * c1 - v[3]! * s1, v[2]! * c0 + v[0]! * s0, v[3]! * c1 + v[1]! * s1, v[4]!, v[5]!);
      // interleaved pairs (0,1) at angle 2 and (2,3) at angle 1
      expInter.push(v[0]! * c0 - v[1]! * s0, v[1]! * c0 + v[0]! * s0, v[2]! * c1 - v[3]! * s1, v[3]! * c1 + v[2]! * s1, v[4]!, v[5]!);
    }
  }
  assertClose(r.half!, expHalf, 1e-14, 'rotate-half');
  assertClose(r.inter!, expInter, 1e-14, 'interleaved');
  assertClose(r.undo!, xs, 1e-14, 'inverse');
  assertClose(r.undoI!, xs, 1e-14, 'inverse interleaved');
});

test('attention: hand-computed causal case with one head', async () => {
  const g = new Graph();
  const q = g.input('q', 'float64', [1, 2, 1]);
  const k = g.input('k', 'float64', [1, 2, 1]);
  const v = g.input('v', 'float64', [1, 2, 1]);
  g.setOutputs({ o: ir.attention(q, k, v, { numHeads: 1, numKvHeads: 1, headDim: 1, causal: true }).out, full: ir.attention(q, k, v, { numHeads: 1, numKvHeads: 1, headDim: 1, causal: false }).out });
  // scale 1: query 1 scores keys 0, 1 as 0, ln 2 -> weights 1/3, 2/3
  const r = await evaluate(g, { q: f64([1, 2, 1], [7, 1]), k: f64([1, 2, 1], [0, Math.log(2)]), v: f64([1, 2, 1], [3, 6]) });
  assertClose(r.o!, [3, (3 + 12) / 3]);
  // non-causal query 0: scores 0, 7 ln 2 -> weights 1/129, 128/129
  assertClose(r.full!, [(3 + 128 * 6) / 129, 5]);
});

/** Straightforward per-head attention over a full key/value sequence (BNSH caches). */
function naiveAttention(
  q: number[], kFull: number[][][][], vFull: number[][][][], B: number, S: number, nh: number, nkv: number, hd: number,
  causal: boolean, scale: number, bias?: (b: number, h: number, i: number, j: number) => number,
): number[] {
  const L = kFull[0]![0]!.length;
  const out: number[] = new Array(B * S * nh * hd).fill(0);
  for (let b = 0; b < B; b++) for (let h = 0; h < nh; h++) {
    const g = Math.floor(h / (nh / nkv));
    for (let i = 0; i < S; i++) {
      const qi = q.slice(((b * S + i) * nh + h) * hd, ((b * S + i) * nh + h + 1) * hd);
      const allowed = [...Array(L).keys()].filter((j) => !causal || j <= L - S + i);
      const sc = allowed.map((j) => scale * qi.reduce((s, x, e) => s + x * kFull[b]![g]![j]![e]!, 0) + (bias ? bias(b, h, i, j) : 0));
      const m = Math.max(...sc);
      const w = sc.map((s) => Math.exp(s - m));
      const z = w.reduce((a, c) => a + c, 0);
      for (let e = 0; e < hd; e++) out[((b * S + i) * nh + h) * hd + e] = allowed.reduce((s, j, t) => s + (w[t]! / z) * vFull[b]![g]![j]![e]!, 0);
    }
  }
  return out;
}

/** [B, T, n*hd] flat -> [B][n][T][hd] */
function heads(x: number[], B: number, T: number, n: number, hd: number): number[][][][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: n }, (_, h) => Array.from({ length: T }, (_, t) => x.slice(((b * T + t) * n + h) * hd, ((b * T + t) * n + h + 1) * hd))));
}

test('attention: GQA head sharing, KV cache concat, end-aligned causal mask, broadcast bias', async () => {
  const [B, S, P, nh, nkv, hd] = [2, 3, 2, 4, 2, 3];
  const g = new Graph();
  const q = g.input('q', 'float64', [B, S, nh * hd]);
  const k = g.input('k', 'float64', [B, S, nkv * hd]);
  const v = g.input('v', 'float64', [B, S, nkv * hd]);
  const pk = g.input('pk', 'float64', [B, nkv, P, hd]);
  const pv = g.input('pv', 'float64', [B, nkv, P, hd]);
  const bias = g.input('bias', 'float64', [1, nh, 1, P + S]);
  const base = { numHeads: nh, numKvHeads: nkv, headDim: hd };
  const withPast = ir.attention(q, k, v, { ...base, causal: true, past: { k: pk, v: pv } });
  g.setOutputs({
    noPast: ir.attention(q, k, v, { ...base, causal: true }).out,
    full: ir.attention(q, k, v, { ...base, causal: false, scale: 0.3 }).out,
    past: withPast.out,
    presentK: withPast.present!.k,
    presentV: withPast.present!.v,
    biased: ir.attention(q, k, v, { ...base, causal: true, past: { k: pk, v: pv }, bias }).out,
  });
  const feeds = {
    q: randomNormal(1, [B, S, nh * hd]),
    k: randomNormal(2, [B, S, nkv * hd]),
    v: randomNormal(3, [B, S, nkv * hd]),
    pk: randomNormal(4, [B, nkv, P, hd]),
    pv: randomNormal(5, [B, nkv, P, hd]),
    bias: randomUniform(6, [1, nh, 1, P + S], -2, 2),
  };
  const r = await evaluate(g, feeds);
  const [qn, kn, vn, pkn, pvn, bn] = [feeds.q, feeds.k, feeds.v, feeds.pk, feeds.pv, feeds.bias].map(toNumbers) as number[][];
  const kh = heads(kn!, B, S, nkv, hd);
  const vh = heads(vn!, B, S, nkv, hd);
  const pastOf = (flat: number[]) => Array.from({ length: B }, (_, b) => Array.from({ length: nkv }, (_, g2) => Array.from({ length: P }, (_, t) => flat.slice(((b * nkv + g2) * P + t) * hd, ((b * nkv + g2) * P + t + 1) * hd))));
  const kCat = pastOf(pkn!).map((bb, b) => bb.map((gg, g2) => [...gg, ...kh[b]![g2]!]));
  const vCat = pastOf(pvn!).map((bb, b) => bb.map((gg, g2) => [...gg, ...vh[b]![g2]!]));
  const sc = 1 / Math.sqrt(hd);
  assertClose(r.noPast!, naiveAttention(qn!, kh, vh, B, S, nh, nkv, hd, true, sc), 1e-12, 'no past');
  assertClose(r.full!, naiveAttention(qn!, kh, vh, B, S, nh, nkv, hd, false, 0.3), 1e-12, 'non-causal');
  assertClose(r.past!, naiveAttention(qn!, kCat, vCat, B, S, nh, nkv, hd, true, sc), 1e-12, 'with past');
  assert.deepEqual(r.presentK!.shape, [B, nkv, P + S, hd]);
  assertClose(r.presentK!, kCat.flat(3), 0, 'presentK');
  assertClose(r.presentV!, vCat.flat(3), 0, 'presentV');
  assertClose(r.biased!, naiveAttention(qn!, kCat, vCat, B, S, nh, nkv, hd, true, sc, (_b, h, _i, j) => bn![h * (P + S) + j]!), 1e-12, 'bias');
  // GQA really shares: heads 0 and 1 (kv head 0) differ from what kv head 1 would give
  assert.notDeepEqual(toNumbers(r.noPast!).slice(0, hd), naiveAttention(qn!, kh.map((bb) => [bb[1]!, bb[1]!]), vh.map((bb) => [bb[1]!, bb[1]!]), B, S, nh, nkv, hd, true, sc).slice(0, hd));
});

test('cross_entropy: mean over non-ignored rows; all ignored gives 0', async () => {
  const g = new Graph();
  const l = g.input('l', 'float64', [3, 2]);
  const t = g.input('t', 'int64', [3]);
  g.setOutputs({ ce: ir.crossEntropy(l, t), ce0: ir.crossEntropy(l, t, 0) });
  const logits = f64([3, 2], [0, Math.log(3), 0, 0, 5, 5]);
  const r = await evaluate(g, { l: logits, t: i64([3], [1, -100, 0]) }, { outputs: [g.outputs[0]!] });
  assert.deepEqual(r.ce!.shape, []);
  // row 0: log(1 + 3) - log 3; row 2: log(2 e^5) - 5 = log 2
  assertClose(r.ce!, [(Math.log(4 / 3) + Math.log(2)) / 2]);
  // ignoreIndex 0 skips row 2; rows 0 and 1 (target 1): log(4/3) and log 2 - 0
  const r1 = await evaluate(g, { l: logits, t: i64([3], [1, 1, 0]) }, { outputs: [g.outputs[1]!] });
  assertClose(r1.ce0!, [(Math.log(4 / 3) + Math.log(2)) / 2]);
  // with ignoreIndex 0, target -100 is just out of range -> error
  await assert.rejects(evaluate(g, { l: logits, t: i64([3], [1, -100, 0]) }, { outputs: [g.outputs[1]!] }), /outside/);
  const r2 = await evaluate(g, { l: logits, t: i64([3], [-100, -100, -100]) }, { outputs: [g.outputs[0]!] });
  assertClose(r2.ce!, [0]);
});

test('linear with q4 and q8 weights equals linear with the dequantized weights', async () => {
  const [N, K] = [3, 64];
  const wf = Float32Array.from(toNumbers(randomNormal(9, [N * K], 0.1)));
  const x = randomNormal(10, [2, K], 1, 'float32');
  for (const dtype of ['q4', 'q8'] as const) {
    const qw = quantizeBlockwise(wf, N, K, dtype);
    const deq = dequantizeBlockwise(qw);
    const g = new Graph();
    const xi = g.input('x', 'float32', [2, K]);
    const w = g.param('w', dtype, [N, K], qw);
    const b = g.param('b', 'float32', [N], { dtype: 'float32', shape: [N], data: Float32Array.from([1, 2, 3]) });
    g.setOutputs({ y: ir.linear(xi, w, b) });
    const r = await evaluate(g, { x });
    const xs = toNumbers(x);
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let o = 0; o < N; o++) {
      let s = o + 1;
      for (let p = 0; p < K; p++) s += xs[i * K + p]! * deq[o * K + p]!;
      expected.push(s);
    }
    assertClose(r.y!, expected, 1e-12, dtype);
  }
});
