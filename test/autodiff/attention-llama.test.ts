import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { HostTensor, Tensor } from '../../src/ir/index.ts';
import { backward } from '../../src/autodiff/index.ts';
import { hostTensor } from '../../src/interp/index.ts';
import { GraphBuildError, UnsupportedError } from '../../src/errors.ts';
import { TOLERANCE, formatTable, gradCheck, project, type CheckResult, type GradCase } from './gradcheck.ts';
import { u } from './cases.ts';

const results: CheckResult[] = [];
after(() => console.log(`\nattention / Llama block gradient checks (4-point central differences, h = 1e-4):\n${formatTable(results)}`));

function check(c: GradCase): void {
  test(`grad ${c.name}`, async (t) => {
    const r = await gradCheck(c);
    results.push(r);
    t.diagnostic(`${c.name}: max element rel err ${r.elementRel.toExponential(2)}, norm rel err ${r.normRel.toExponential(2)} over ${r.elements} elements`);
    assert.ok(r.elementRel <= TOLERANCE, `${c.name}: element-wise relative error ${r.elementRel} > ${TOLERANCE}`);
  });
}

interface AttnCase {
  name: string;
  B: number;
  S: number;
  T: number;
  nh: number;
  nkv: number;
  hd: number;
  causal: boolean;
  biasShape?: number[];
  scale?: number;
}
for (const a of [
  { name: 'attention GQA causal (4 heads / 2 kv)', B: 2, S: 3, T: 3, nh: 4, nkv: 2, hd: 2, causal: true },
  { name: 'attention MQA causal, S < T (end-aligned)', B: 1, S: 2, T: 4, nh: 2, nkv: 1, hd: 3, causal: true },
  { name: 'attention MHA non-causal + bias [1,nh,S,T]', B: 2, S: 2, T: 3, nh: 2, nkv: 2, hd: 2, causal: false, biasShape: [1, 2, 2, 3], scale: 0.7 },
  { name: 'attention GQA causal + bias [S,T] (rank 2)', B: 1, S: 3, T: 3, nh: 4, nkv: 2, hd: 2, causal: true, biasShape: [3, 3] },
  // G = 1 takes the rank-4 path (no group axis)
  { name: 'attention MHA causal, S < T + bias [B,1,S,T]', B: 2, S: 2, T: 3, nh: 3, nkv: 3, hd: 2, causal: true, biasShape: [2, 1, 2, 3] },
] as AttnCase[]) {
  const feeds: Record<string, HostTensor> = { q: u(1, [a.B, a.S, a.nh * a.hd]), k: u(2, [a.B, a.T, a.nkv * a.hd]), v: u(3, [a.B, a.T, a.nkv * a.hd]) };
  if (a.biasShape) feeds.bias = u(4, a.biasShape);
  check({
    name: a.name,
    feeds,
    build: (g) => {
      const q = g.input('q', 'float64', feeds.q!.shape);
      const k = g.input('k', 'float64', feeds.k!.shape);
      const v = g.input('v', 'float64', feeds.v!.shape);
      const bias = a.biasShape ? g.input('bias', 'float64', a.biasShape) : undefined;
      const out = ir.attention(q, k, v, { numHeads: a.nh, numKvHeads: a.nkv, headDim: a.hd, causal: a.causal, bias, scale: a.scale }).out;
      return { loss: project(out), wrt: bias ? [q, k, v, bias] : [q, k, v] };
    },
  });
}

test('attention backward: clear errors for symbolic causal lengths and for a KV cache', () => {
  const g = new ir.Graph();
  const q = g.input('q', 'float64', [1, 'seq', 4]);
  const out = ir.attention(q, q, q, { numHeads: 2, numKvHeads: 2, headDim: 2, causal: true }).out;
  assert.throws(() => backward(ir.reduceSum(out), [q]), (e: unknown) => e instanceof GraphBuildError && /static sequence lengths/.test(e.message));
  const g2 = new ir.Graph();
  const x = g2.input('x', 'float64', [1, 2, 4]);
  const pk = g2.input('pk', 'float64', [1, 2, 3, 2]);
  const out2 = ir.attention(x, x, x, { numHeads: 2, numKvHeads: 2, headDim: 2, causal: true, past: { k: pk, v: pk } }).out;
  assert.throws(() => backward(ir.reduceSum(out2), [x]), UnsupportedError);
});

// --- a whole tiny Llama-like block ------------------------------------------------------
const V = 7;
const H = 8;
const NH = 2;
const NKV = 1;
const HD = 4;
const F = 6;
const B = 2;
const S = 3;
const shapes: Record<string, number[]> = {
  embed: [V, H],
  attn_norm: [H],
  wq: [NH * HD, H],
  wk: [NKV * HD, H],
  wv: [NKV * HD, H],
  wo: [H, NH * HD],
  mlp_norm: [H],
  gate: [F, H],
  up: [F, H],
  down: [H, F],
  final_norm: [H],
  lm_head: [V, H],
};
const params: Record<string, HostTensor> = {};
Object.entries(shapes).forEach(([name, shape], i) => {
  params[name] = name.endsWith('norm') ? u(100 + i, shape, 0.7, 1.3) : u(100 + i, shape, -0.5, 0.5);
});

check({
  name: 'tiny Llama block end to end (all 12 params)',
  feeds: {
    tokens: hostTensor('int64', [B, S], [1, 4, 6, 0, 2, 2]),
    positions: hostTensor('int64', [B, S], [0, 1, 2, 0, 1, 2]),
    targets: hostTensor('int64', [B * S], [4, 6, -100, 2, 2, 5]),
  },
  params,
  build: (g) => {
    const p: Record<string, Tensor> = {};
    for (const [name, shape] of Object.entries(shapes)) p[name] = g.param(name, 'float64', shape);
    const tokens = g.input('tokens', 'int64', [B, S]);
    const positions = g.input('positions', 'int64', [B, S]);
    const targets = g.input('targets', 'int64', [B * S]);
    const rope = { numHeads: NH, headDim: HD, theta: 10000 };
    let x = ir.gather(p.embed!, tokens); // [B, S, H]
    const h = ir.rmsNorm(x, p.attn_norm!, 1e-6);
    const q = ir.rope(ir.linear(h, p.wq!), positions, rope);
    const k = ir.rope(ir.linear(h, p.wk!), positions, { ...rope, numHeads: NKV });
    const v = ir.linear(h, p.wv!);
    const attn = ir.attention(q, k, v, { numHeads: NH, numKvHeads: NKV, headDim: HD, causal: true }).out;
    x = x.add(ir.linear(attn, p.wo!));
    const m = ir.rmsNorm(x, p.mlp_norm!, 1e-6);
    x = x.add(ir.linear(ir.silu(ir.linear(m, p.gate!)).mul(ir.linear(m, p.up!)), p.down!));
    const logits = ir.linear(ir.rmsNorm(x, p.final_norm!, 1e-6), p.lm_head!);
    const loss = ir.crossEntropy(ir.reshape(logits, [B * S, V]), targets);
    return { loss, wrt: Object.keys(shapes).map((n) => p[n]!) };
  },
});
