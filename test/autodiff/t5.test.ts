// Gradient of a whole tiny T5 (relative-position bias tables gathered by bucket, padding mask,
// causal decoder self-attention with the bias, cross-attention over the encoder, gated-GELU FFNs,
// untied head) against finite differences in float64. T5 needs no new gradient rule: the bias
// enters through gather / transpose / the attention bias input, and cross-attention is attention
// with k, v from the encoder; this checks their composition exactly as the trainer builds it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../../src/ir/index.ts';
import * as ir from '../../src/ir/index.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { t5 } from '../../src/models/t5.ts';
import { listT5Weights, t5ForwardStatic } from '../../src/models/t5-graphs.ts';
import { hostTensor } from '../../src/interp/index.ts';
import { TOLERANCE, formatTable, gradCheck, type CheckResult } from './gradcheck.ts';
import { u } from './cases.ts';

const results: CheckResult[] = [];
after(() => console.log(`\nT5 gradient check:\n${formatTable(results)}`));

test('grad tiny T5 end to end (every weight, relative bias tables, cross-attention, padding)', async (t) => {
  const c = t5.parseConfig({ model_type: 't5', vocab_size: 7, d_model: 4, d_kv: 2, num_heads: 2, d_ff: 6, num_layers: 1, num_decoder_layers: 2, relative_attention_num_buckets: 4, relative_attention_max_distance: 8, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, decoder_start_token_id: 0 });
  const shapes = listT5Weights(c);
  const feeds: Record<string, HostTensor> = {
    input_ids: hostTensor('int64', [2, 5], [3, 4, 5, 6, 1, 2, 3, 1, 0, 0]),
    attention_mask: hostTensor('int64', [2, 5], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
    decoder_input_ids: hostTensor('int64', [2, 3], [0, 5, 4, 0, 6, 1]),
    targets: hostTensor('int64', [6], [5, 4, 1, 6, 1, -100]),
  };
  let i = 0;
  for (const [name, shape] of shapes) feeds[name] = /layer_norm/.test(name) ? u(200 + i++, shape, 0.7, 1.3) : u(200 + i++, shape, -0.8, 0.8);
  const r = await gradCheck({
    name: 'tiny T5 (1+2 layers)',
    feeds,
    build: (g) => {
      const vb = new VarBuilder(g, { shape: (n) => shapes.get(n), loadF32: async () => new Float32Array(0), names: () => [...shapes.keys()] }, { dtype: 'float64', linear: 'float32', trainable: () => true });
      const inputIds = g.input('input_ids', 'int64', [2, 5]);
      const attentionMask = g.input('attention_mask', 'int64', [2, 5]);
      const decoderInputIds = g.input('decoder_input_ids', 'int64', [2, 3]);
      const targets = g.input('targets', 'int64', [6]);
      const logits = t5ForwardStatic(vb, c, { inputIds, attentionMask, decoderInputIds });
      const loss = ir.crossEntropy(ir.reshape(logits, [6, c.vocabSize]), targets);
      return { loss, wrt: g.inputs.filter((x) => shapes.has(x.name!)) };
    },
  });
  results.push(r);
  t.diagnostic(`max element rel err ${r.elementRel.toExponential(2)} over ${r.elements} elements`);
  assert.equal(r.elements, [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0));
  assert.ok(r.elementRel <= TOLERANCE, `element-wise relative error ${r.elementRel} > ${TOLERANCE}`);
});
