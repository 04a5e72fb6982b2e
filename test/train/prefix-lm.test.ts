// The prefix-LM attention mask on decoders (UL2R / U-PaLM's non-causal decoder): logits at
// prefix positions depend on later prefix tokens (bidirectional) but never on target tokens;
// target positions stay causal. Checked on the float64 interpreter for llama and phi, then
// onnxruntime (float32) against it; plus the attention gradient with a prefix-LM bias, and
// inference graphs untouched when no mask is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import * as ir from '../../src/ir/index.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { buildDecoderGraph, prefixLMBias, type CausalLMArch } from '../../src/models/causal-lm.ts';
import { interpreterRunner } from '../../src/models/runners.ts';
import { compile } from '../../src/runtime/session.ts';
import { tinyModels, tinyWeights, type TinyModel } from '../models/tiny.ts';
import { TOLERANCE, gradCheck, project } from '../autodiff/gradcheck.ts';
import { u } from '../autodiff/cases.ts';

const S = 8;
const P = 4; // positions 0..3 are the prefix

function prefixGraph<C>(m: TinyModel<C>, dtype: 'float32' | 'float64', withMask: boolean): Graph {
  const g = new Graph(`${m.name}-prefix-lm`);
  const vb = new VarBuilder(g, tinyWeights(m), { dtype, linear: 'float32' });
  const inputIds = g.input('input_ids', 'int64', [1, S]);
  const positions = g.input('position_ids', 'int64', [1, S]);
  const prefix = g.input('prefix_lengths', 'int64', [1]);
  const attentionBias = withMask ? prefixLMBias(prefix, S, dtype) : undefined;
  const r = (m.arch as CausalLMArch<C>).forward(vb, m.config, { inputIds, positions, attentionBias });
  g.setOutputs({ logits: r.head(r.hidden) });
  return g;
}

function feeds(ids: number[]): Record<string, HostTensor> {
  return {
    input_ids: { dtype: 'int64', shape: [1, S], data: BigInt64Array.from(ids, BigInt) },
    position_ids: { dtype: 'int64', shape: [1, S], data: BigInt64Array.from({ length: S }, (_, i) => BigInt(i)) },
    prefix_lengths: { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(P)) },
  };
}

/** Max |a - b| of the logits at each position. */
function perPosition(a: HostTensor, b: HostTensor, V: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < S; i++) {
    let m = 0;
    for (let v = 0; v < V; v++) m = Math.max(m, Math.abs(Number(a.data[i * V + v]) - Number(b.data[i * V + v])));
    out.push(m);
  }
  return out;
}

const base = [3, 14, 15, 9, 26, 5, 35, 8];
const laterPrefix = base.map((t, i) => (i === 3 ? 40 : t)); // changes the last prefix token
const aTarget = base.map((t, i) => (i === 5 ? 41 : t)); // changes a target token

for (const m of tinyModels()) {
  test(`${m.name}: prefix-LM mask is bidirectional over the prefix and causal after it`, async (t) => {
    const V = m.arch.vocabSize(m.config);
    const run = interpreterRunner(prefixGraph(m, 'float64', true));
    const [l0, l1, l2] = [await run.run(feeds(base)), await run.run(feeds(laterPrefix)), await run.run(feeds(aTarget))];
    const dPrefix = perPosition(l0.logits!, l1.logits!, V);
    const dTarget = perPosition(l0.logits!, l2.logits!, V);
    t.diagnostic(`change prefix token 3: ${dPrefix.map((d) => d.toExponential(1)).join(' ')}`);
    t.diagnostic(`change target token 5: ${dTarget.map((d) => d.toExponential(1)).join(' ')}`);
    for (let i = 0; i < P; i++) assert.ok(dPrefix[i]! > 1e-4, `prefix position ${i} must see the later prefix token 3 (diff ${dPrefix[i]})`);
    for (let i = 0; i < 5; i++) assert.equal(dTarget[i], 0, `position ${i} must not see target token 5`);
    for (let i = 5; i < S; i++) assert.ok(dTarget[i]! > 1e-4, `position ${i} sees target token 5 causally`);

    // Control: the plain causal decoder does not let position 0 see token 3.
    const causal = interpreterRunner(prefixGraph(m, 'float64', false));
    const c = perPosition((await causal.run(feeds(base))).logits!, (await causal.run(feeds(laterPrefix))).logits!, V);
    for (let i = 0; i < 3; i++) assert.equal(c[i], 0);

    // onnxruntime (float32, standard attention with the additive bias) agrees with the interpreter.
    const cg = await compile(prefixGraph(m, 'float32', true), { cacheDir: false, threads: 1 });
    try {
      const ort = await cg.run(feeds(aTarget));
      const worst = Math.max(...perPosition(ort.logits!, l2.logits!, V));
      t.diagnostic(`onnxruntime float32 vs interpreter float64: max |diff| ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-4, `ORT differs by ${worst}`);
    } finally {
      await cg.dispose();
    }
  });

  test(`${m.name}: without a mask the inference graph keeps plain causal attention`, () => {
    const g = new Graph('infer');
    buildDecoderGraph(m.arch, m.config, new VarBuilder(g, tinyWeights(m), { dtype: 'float32', linear: 'float32' }), { cache: true, lastLogitsOnly: true });
    const attn = g.nodes.filter((n) => n.op === 'attention');
    assert.equal(attn.length, m.config.layers);
    for (const n of attn) {
      assert.equal(n.attrs.causal, true);
      assert.equal(n.inputs[5] ?? null, null, 'no bias input');
    }
  });
}

test('grad attention GQA non-causal with a prefix-LM bias (masked entries at -1e9)', async (t) => {
  const [B, Sq, nh, nkv, hd] = [2, 5, 4, 2, 2];
  const f: Record<string, HostTensor> = {
    q: u(11, [B, Sq, nh * hd]),
    k: u(12, [B, Sq, nkv * hd]),
    v: u(13, [B, Sq, nkv * hd]),
    prefix: { dtype: 'int64', shape: [B], data: BigInt64Array.of(2n, 4n) },
  };
  const r = await gradCheck({
    name: 'attention + prefix-LM bias',
    feeds: f,
    build: (g) => {
      const q = g.input('q', 'float64', f.q!.shape);
      const k = g.input('k', 'float64', f.k!.shape);
      const v = g.input('v', 'float64', f.v!.shape);
      const bias = prefixLMBias(g.input('prefix', 'int64', [B]), Sq, 'float64');
      const out = ir.attention(q, k, v, { numHeads: nh, numKvHeads: nkv, headDim: hd, causal: false, bias }).out;
      return { loss: project(out), wrt: [q, k, v] };
    },
  });
  t.diagnostic(`max element rel err ${r.elementRel.toExponential(2)} over ${r.elements} elements`);
  assert.ok(r.elementRel <= TOLERANCE, `element-wise relative error ${r.elementRel}`);
});
