import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { evaluate, hostTensor, randomUniform, toNumbers } from '../../src/interp/index.ts';
import { backward } from '../../src/autodiff/index.ts';
import { adamwInputs, adamwStepFeeds, adamwUpdate, type AdamWConfig } from '../../src/train/adamw.ts';

/** Plain-JS AdamW, written from the PyTorch docs, as the reference. */
function jsAdamW(p: number[], g: number[], m: number[], v: number[], t: number, lr: number, c: AdamWConfig): void {
  for (let i = 0; i < p.length; i++) {
    p[i]! *= 1 - lr * c.weightDecay;
    m[i] = c.beta1 * m[i]! + (1 - c.beta1) * g[i]!;
    v[i] = c.beta2 * v[i]! + (1 - c.beta2) * g[i]! ** 2;
    const mh = m[i]! / (1 - c.beta1 ** t);
    const vh = v[i]! / (1 - c.beta2 ** t);
    p[i]! -= (lr * mh) / (Math.sqrt(vh) + c.eps);
  }
}

test('adamwUpdate matches a hand-written AdamW over several steps', async () => {
  const config: AdamWConfig = { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
  const shape = [2, 3];
  const g = new ir.Graph();
  const p = g.input('p', 'float64', shape);
  const grad = g.input('g', 'float64', shape);
  const m = g.input('m', 'float64', shape);
  const v = g.input('v', 'float64', shape);
  const r = adamwUpdate(p, grad, m, v, adamwInputs(g, 'float64'), config);
  g.setOutputs({ p2: r.param, m2: r.m, v2: r.v });

  const ref = { p: toNumbers(randomUniform(1, shape)), m: [0, 0, 0, 0, 0, 0], v: [0, 0, 0, 0, 0, 0] };
  let state: Record<string, HostTensor> = { p: hostTensor('float64', shape, ref.p), m: hostTensor('float64', shape, ref.m), v: hostTensor('float64', shape, ref.v) };
  for (let t = 1; t <= 5; t++) {
    const gr = toNumbers(randomUniform(10 + t, shape, -2, 2));
    const lr = 0.05 / t;
    jsAdamW(ref.p, gr, ref.m, ref.v, t, lr, config);
    const out = await evaluate(g, { ...state, g: hostTensor('float64', shape, gr), ...adamwStepFeeds(t, lr, config, 'float64') });
    state = { p: out.p2!, m: out.m2!, v: out.v2! };
    for (const [k, want] of [['p', ref.p], ['m', ref.m], ['v', ref.v]] as const) {
      toNumbers(state[k]!).forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= 1e-14 * Math.max(1, Math.abs(want[i]!)), `step ${t} ${k}[${i}]: ${x} vs ${want[i]}`));
    }
  }
  // the first step moves every element by about lr (Adam's normalized step) plus decay
  assert.ok(ref.p.some((x, i) => Math.abs(x - toNumbers(randomUniform(1, shape))[i]!) > 0.01));
});

test('backward + adamw in one graph fits a tiny least-squares problem', async () => {
  const g = new ir.Graph();
  const w = g.input('w', 'float64', [2, 3]);
  const m = g.input('m', 'float64', [2, 3]);
  const v = g.input('v', 'float64', [2, 3]);
  const x = g.constant(randomUniform(2, [8, 3]));
  const target = ir.linear(x, g.constant(randomUniform(3, [2, 3]))); // realizable: the optimum has loss 0
  const err = ir.linear(x, w).sub(target);
  const loss = ir.reduceMean(err.mul(err));
  const [dw] = backward(loss, [w]);
  const r = adamwUpdate(w, dw!, m, v, adamwInputs(g, 'float64'), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  g.setOutputs({ loss, w2: r.param, m2: r.m, v2: r.v });
  let state: Record<string, HostTensor> = { w: hostTensor('float64', [2, 3], [0, 0, 0, 0, 0, 0]), m: hostTensor('float64', [2, 3], [0, 0, 0, 0, 0, 0]), v: hostTensor('float64', [2, 3], [0, 0, 0, 0, 0, 0]) };
  const losses: number[] = [];
  for (let t = 1; t <= 60; t++) {
    const out = await evaluate(g, { ...state, ...adamwStepFeeds(t, 0.05, undefined, 'float64') });
    losses.push(toNumbers(out.loss!)[0]!);
    state = { w: out.w2!, m: out.m2!, v: out.v2! };
  }
  assert.ok(losses.at(-1)! < 0.05 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
});

test('adamwUpdate with gradScale (folded clip factor) equals AdamW on the scaled gradient', async () => {
  const config: AdamWConfig = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05 };
  const shape = [3, 2];
  const g = new ir.Graph();
  const p = g.input('p', 'float64', shape);
  const grad = g.input('g', 'float64', shape);
  const m = g.input('m', 'float64', shape);
  const v = g.input('v', 'float64', shape);
  const s = g.input('s', 'float64', []);
  const r = adamwUpdate(p, grad, m, v, adamwInputs(g, 'float64'), config, s);
  g.setOutputs({ p2: r.param, m2: r.m, v2: r.v });

  const ref = { p: toNumbers(randomUniform(4, shape)), m: toNumbers(randomUniform(5, shape, -0.1, 0.1)), v: toNumbers(randomUniform(6, shape, 0, 0.1)) };
  const feeds = { p: hostTensor('float64', shape, ref.p), m: hostTensor('float64', shape, ref.m), v: hostTensor('float64', shape, ref.v) };
  const gr = toNumbers(randomUniform(7, shape, -2, 2));
  const scale = 0.37;
  jsAdamW(ref.p, gr.map((x) => x * scale), ref.m, ref.v, 3, 0.01, config);
  const out = await evaluate(g, { ...feeds, g: hostTensor('float64', shape, gr), s: hostTensor('float64', [], [scale]), ...adamwStepFeeds(3, 0.01, config, 'float64') });
  for (const [k, want] of [['p2', ref.p], ['m2', ref.m], ['v2', ref.v]] as const) {
    toNumbers(out[k]!).forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= 1e-14 * Math.max(1, Math.abs(want[i]!)), `${k}[${i}]: ${x} vs ${want[i]}`));
  }
  assert.throws(() => adamwUpdate(p, grad, m, v, adamwInputs(g, 'float64', 'bad'), config, grad), /gradScale/);
});
