// Shared-buffer KV cache (onnxruntime GroupQueryAttention updating preallocated buffers in
// place) against the concat cache: same logits through prefill, decode, buffer growth,
// truncation, several sequences and all-position logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCausalLM } from '../../src/models/load.ts';
import { SharedKvDecoderSession } from '../../src/models/decoder-session.ts';
import { writeTinyModel } from './fixture-model.ts';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-cache-'));

// 'shared': the buffer is fed and fetched (updated in place by onnxruntime); 'append' (standard
// ops) and 'append-gqa': it is only fed, and the session writes the fetched new K/V into it.
for (const [kind, kvMode] of [['llama', 'shared'], ['phi', 'shared'], ['llama', 'append'], ['phi', 'append'], ['llama', 'append-gqa']] as const) {
  test(`${kind}: ${kvMode}-buffer KV session equals the concat session`, async (t) => {
    const files = await writeTinyModel(kind, 5, 0.1);
    const shared = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1, kvMode });
    const concat = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1, kvMode: 'concat' });
    const a = shared.createSession();
    const b = concat.createSession();
    assert.ok(a instanceof SharedKvDecoderSession, `${kvMode} mode uses the slot buffers`);
    // append mode feeds long prompts in chunks: make the 40-token prompt take three.
    (a as SharedKvDecoderSession).prefillChunk = 16;
    assert.ok(!(b instanceof SharedKvDecoderSession));
    let worst = 0;
    const same = (x: Float32Array[][], y: Float32Array[][]) => {
      assert.equal(x.length, y.length);
      for (let i = 0; i < x.length; i++) {
        assert.equal(x[i]!.length, y[i]!.length);
        for (let j = 0; j < x[i]!.length; j++) worst = Math.max(worst, maxAbsDiff(x[i]![j]!, y[i]![j]!));
      }
    };
    // Prefill two sequences of different lengths in one call, then decode past the first
    // capacity step (64) so the buffers grow once.
    const prompts = [Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 300), [9, 8, 7]];
    same(await a.forward(prompts, { allLogits: true }), await b.forward(prompts, { allLogits: true }));
    assert.equal((a as SharedKvDecoderSession).runCount, kvMode === 'append' ? 3 + 1 : 1 + 1, 'prefill runs (40 tokens in chunks of 16 in append mode)');
    const cap0 = (a as SharedKvDecoderSession).capacity(0);
    for (let step = 0; step < 30; step++) {
      const toks = [[(step * 13 + 1) % 300], [(step * 5 + 2) % 300]];
      same(await a.forward(toks), await b.forward(toks));
    }
    assert.equal(a.cachedLength(0), 70);
    assert.equal(a.cachedLength(1), 33);
    assert.equal(cap0, 64);
    assert.equal((a as SharedKvDecoderSession).capacity(0), 128, 'buffer doubled when the context passed 64');
    // Truncate and continue with a multi-token chunk on a non-empty cache.
    a.truncate(0, 20);
    b.truncate(0, 20);
    same(await a.forward([[4, 5, 6, 7]], { allLogits: true }), await b.forward([[4, 5, 6, 7]], { allLogits: true }));
    assert.equal(a.cachedLength(0), 24);
    a.truncate(1, 0);
    b.truncate(1, 0);
    same(await a.forward([[11, 12]], { seqs: [1] }), await b.forward([[11, 12]], { seqs: [1] }));
    t.diagnostic(`${kind}: max |${kvMode} - concat| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-5, `${kvMode} KV differs from concat by ${worst}`);
    await assert.rejects(a.forward([[1000]]), /outside the vocabulary/);
    await shared.dispose();
    await concat.dispose();
  });
}
