// GroupQueryAttention with a KV cache: prefill, then decode steps, must equal the reference
// interpreter's full recompute over the whole sequence; in concat mode (present = past ++
// new), in shared-buffer mode (one preallocated buffer fed as past and fetched as present,
// updated in place by onnxruntime) and in append mode (the buffer is only fed; the graph
// returns the new positions' K/V, which the caller writes into it; 'append' takes the key
// buffer transposed, [B, kvHeads, headDim, capacity]).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as ir from '../../src/ir/index.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { evaluate } from '../../src/interp/index.ts';
import { compile, type CompileOptions } from '../../src/runtime/session.ts';
import { lowerGraph, KV_PAST_LENGTH_INPUT, pastKeyTransposed } from '../../src/onnx/lower.ts';
import { UnsupportedError } from '../../src/errors.ts';
import { writeNewKeysTransposed, writeNewKv } from '../../src/models/decoder-session.ts';
import { Harness, compareTensors, randomUniform, TOL } from './helpers.ts';

const h = new Harness();
after(() => h.cleanup());

const D = 32;
const NH = 4;
const NKV = 2;
const HD = 8;
const PARAMS: Record<string, HostTensor> = {
  wq: randomUniform(101, [NH * HD, D], -0.5, 0.5, 'float32'),
  wk: randomUniform(102, [NKV * HD, D], -0.5, 0.5, 'float32'),
  wv: randomUniform(103, [NKV * HD, D], -0.5, 0.5, 'float32'),
  wo: randomUniform(104, [D, NH * HD], -0.5, 0.5, 'float32'),
};

/** One attention block (projections, rope, causal GQA, output projection). */
function buildBlock(withPast: boolean): ir.Graph {
  const g = new ir.Graph(withPast ? 'block_kv' : 'block_full');
  const x = g.input('x', 'float32', ['batch', 'seq', D]);
  const pos = g.input('pos', 'int64', ['batch', 'seq']);
  const past = withPast ? { k: g.input('past_k', 'float32', ['batch', NKV, 'past', HD]), v: g.input('past_v', 'float32', ['batch', NKV, 'past', HD]) } : undefined;
  const p = (n: string) => g.param(n, 'float32', PARAMS[n]!.shape);
  const q = ir.rope(ir.linear(x, p('wq')), pos, { numHeads: NH, headDim: HD, theta: 10000 });
  const k = ir.rope(ir.linear(x, p('wk')), pos, { numHeads: NKV, headDim: HD, theta: 10000 });
  const v = ir.linear(x, p('wv'));
  const r = ir.attention(q, k, v, { numHeads: NH, numKvHeads: NKV, headDim: HD, causal: true, past });
  const y = ir.linear(r.out, p('wo'));
  g.setOutputs(r.present ? { y, present_k: r.present.k, present_v: r.present.v } : { y });
  return g;
}

const f32 = (shape: number[], data: Float32Array | number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(data) });
const positions = (batch: number, start: number, n: number): HostTensor => ({
  dtype: 'int64',
  shape: [batch, n],
  data: BigInt64Array.from({ length: batch * n }, (_, i) => BigInt(start + (i % n))),
});
/** Rows [start, start+n) of a [B, T, D] tensor. */
function rows(t: HostTensor, start: number, n: number): HostTensor {
  const [b, T, d] = t.shape as [number, number, number];
  const out = new Float32Array(b * n * d);
  for (let i = 0; i < b; i++) out.set((t.data as Float32Array).subarray((i * T + start) * d, (i * T + start + n) * d), i * n * d);
  return f32([b, n, d], out);
}

/** Steps of a generation: token counts per run (the first is the prefill). */
async function runDecode(batch: number, steps: number[], mode: 'concat' | 'shared' | 'append' | 'append-gqa', opts: CompileOptions = {}): Promise<number> {
  const total = steps.reduce((a, b) => a + b, 0);
  const x = randomUniform(batch * 1000 + total, [batch, total, D], -1, 1, 'float32');
  const full = await evaluate(buildBlock(false), { x, pos: positions(batch, 0, total) }, { params: PARAMS });
  const cg = await compile(buildBlock(true), { cacheDir: h.cacheDir, threads: 1, params: PARAMS, kvMode: mode, ...opts });
  try {
    let maxErr = 0;
    let done = 0;
    const capacity = 16;
    const buffered = mode !== 'concat';
    let v: HostTensor = f32([batch, NKV, buffered ? capacity : 0, HD], new Float32Array(buffered ? batch * NKV * capacity * HD : 0));
    const kT = buffered && pastKeyTransposed(mode);
    let k: HostTensor = f32(kT ? [batch, NKV, HD, capacity] : v.shape, new Float32Array(v.data.length));
    for (const n of steps) {
      const feeds: Record<string, HostTensor> = { x: rows(x, done, n), pos: positions(batch, done, n), past_k: k, past_v: v };
      let out: Record<string, HostTensor>;
      if (mode === 'shared') {
        feeds[KV_PAST_LENGTH_INPUT] = { dtype: 'int32', shape: [batch], data: new Int32Array(batch).fill(done) };
        out = await cg.run(feeds, { y: null, present_k: k, present_v: v });
        // The present is the caller's buffer, updated in place.
        assert.equal(out.present_k, k);
        assert.equal(out.present_v, v);
      } else if (mode === 'append' || mode === 'append-gqa') {
        const past = new Int32Array(batch).fill(done);
        feeds[KV_PAST_LENGTH_INPUT] = { dtype: 'int32', shape: [batch], data: past };
        out = await cg.run(feeds, { y: null, present_k: null, present_v: null });
        // Only the fed positions come back; the caller appends them to its buffer.
        assert.deepEqual(out.present_k!.shape, [batch, n, NKV, HD]);
        if (kT) writeNewKeysTransposed(k, out.present_k!, past);
        else writeNewKv(k, out.present_k!, past);
        writeNewKv(v, out.present_v!, past);
      } else {
        out = await cg.run(feeds);
        assert.deepEqual(out.present_k!.shape, [batch, NKV, done + n, HD]);
        k = out.present_k!;
        v = out.present_v!;
      }
      const c = compareTensors(`step at ${done}`, out.y!, rows(full.y!, done, n));
      maxErr = Math.max(maxErr, c.maxAbs / Math.max(1, c.maxRef));
      done += n;
    }
    return maxErr;
  } finally {
    await cg.dispose();
  }
}

test('lowering picks GroupQueryAttention and RotaryEmbedding for the decode block', () => {
  const ops = lowerGraph(buildBlock(true)).model.graph.nodes.map((n) => n.opType);
  assert.ok(ops.includes('GroupQueryAttention'), ops.join(' '));
  assert.equal(ops.filter((o) => o === 'RotaryEmbedding').length, 2);
  assert.ok(!ops.includes('Identity'));
  const shared = lowerGraph(buildBlock(true), { kvMode: 'shared' });
  assert.deepEqual(
    shared.inputs.map((i) => i.name),
    ['x', 'pos', 'past_k', 'past_v', KV_PAST_LENGTH_INPUT],
  );
  // One filled length per batch row; present K/V have the buffer's dims in shared mode.
  assert.deepEqual(shared.inputs.find((i) => i.name === KV_PAST_LENGTH_INPUT)!.shape, ['batch']);
  assert.deepEqual(shared.outputs.find((o) => o.name === 'present_k')!.shape, ['batch', NKV, 'past', HD]);
  // Append modes: same inputs; present K/V are the fed positions only. 'append' attends with
  // standard ops (no GQA), 'append-gqa' with GQA.
  for (const kvMode of ['append', 'append-gqa'] as const) {
    const append = lowerGraph(buildBlock(true), { kvMode });
    assert.deepEqual(append.inputs.map((i) => i.name), shared.inputs.map((i) => i.name));
    assert.deepEqual(append.outputs.find((o) => o.name === 'present_k')!.shape, ['batch', 'seq', NKV, HD]);
    assert.deepEqual(append.outputs.find((o) => o.name === 'present_v')!.shape, ['batch', 'seq', NKV, HD]);
    // 'append' reads the key buffer transposed; values keep the IR's layout.
    assert.deepEqual(append.inputs.find((i) => i.name === 'past_k')!.shape, kvMode === 'append' ? ['batch', NKV, HD, 'past'] : ['batch', NKV, 'past', HD]);
    assert.deepEqual(append.inputs.find((i) => i.name === 'past_v')!.shape, ['batch', NKV, 'past', HD]);
    assert.equal(append.model.graph.nodes.some((n) => n.opType === 'GroupQueryAttention'), kvMode === 'append-gqa', kvMode);
  }
});

for (const mode of ['concat', 'shared', 'append', 'append-gqa'] as const) {
  test(`${mode} KV: prefill 5 + 4 decode steps, batch 2 = full recompute`, async (t) => {
    const err = await runDecode(2, [5, 1, 1, 1, 1], mode);
    t.diagnostic(`${mode} batch 2: max rel err ${err.toExponential(2)}`);
    assert.ok(err <= TOL.float32, `${err}`);
  });
  test(`${mode} KV: prefill 3, chunk of 3, 2 decode steps, batch 1`, async (t) => {
    const err = await runDecode(1, [3, 3, 1, 1], mode);
    t.diagnostic(`${mode} chunked batch 1: max rel err ${err.toExponential(2)}`);
    assert.ok(err <= TOL.float32, `${err}`);
  });
}

test('standard-ops attention with concat KV matches too (fused ops off)', async (t) => {
  const err = await runDecode(2, [4, 2, 1, 1], 'concat', { fused: false });
  t.diagnostic(`standard ops batch 2: max rel err ${err.toExponential(2)}`);
  assert.ok(err <= TOL.float32, `${err}`);
});

test('GQA limitation: chunk on a non-empty cache with batch > 1 fails with a hint; standard ops handle it', async (t) => {
  await assert.rejects(runDecode(2, [3, 2], 'concat'), /batch_size must be 1.*fused: false/s);
  const err = await runDecode(2, [3, 2, 1], 'concat', { fused: false });
  t.diagnostic(`standard ops, batched chunk: max rel err ${err.toExponential(2)}`);
  assert.ok(err <= TOL.float32, `${err}`);
});

test('append KV (standard ops over the buffer) takes a multi-token chunk on a non-empty cache at batch 2', async (t) => {
  const err = await runDecode(2, [3, 2, 1], 'append');
  t.diagnostic(`append, batched chunk: max rel err ${err.toExponential(2)}`);
  assert.ok(err <= TOL.float32, `${err}`);
});

test('buffer KV modes refuse an attention they cannot run (additive bias), naming the op and site', () => {
  const g = new ir.Graph('bad');
  const q = g.input('q', 'float32', [1, 's', 16]);
  const pk = g.input('pk', 'float32', [1, 2, 'p', 8]);
  const bias = g.input('bias', 'float32', [1, 1, 's', 'p+s']);
  const r = ir.attention(q, q, q, { numHeads: 2, numKvHeads: 2, headDim: 8, causal: true, past: { k: pk, v: pk }, bias });
  g.setOutputs({ out: r.out, pk2: r.present!.k, pv2: r.present!.v });
  for (const kvMode of ['shared', 'append', 'append-gqa'] as const) {
    assert.throws(
      () => lowerGraph(g, { kvMode }),
      (e: unknown) => e instanceof UnsupportedError && /op 'attention'/.test(e.message) && /test\/onnx\/kv-cache\.test\.ts:\d+/.test(e.message),
      kvMode,
    );
  }
});

/**
 * Ragged batched decode in shared mode: each row of one buffer holds a sequence of its own
 * length (prefilled alone, batch 1, into its row of the buffer), then single-token steps run
 * for all rows at once with per-row kv_past_length; every step equals the full recompute of
 * that row's own sequence.
 */
for (const mode of ['shared', 'append', 'append-gqa'] as const) test(`${mode} KV: ragged batch decode (rows at different lengths) = per-row full recompute`, async (t) => {
  const B = 3;
  const prompts = [5, 2, 9];
  const steps = 4;
  const cap = 16;
  const cg = await compile(buildBlock(true), { cacheDir: h.cacheDir, threads: 1, params: PARAMS, kvMode: mode });
  // shared: the buffer is fetched as present (updated in place); append: only the new K/V are.
  const run = async (feeds: Record<string, HostTensor>, kb: HostTensor, vb: HostTensor) => {
    if (mode === 'shared') return cg.run(feeds, { y: null, present_k: kb, present_v: vb });
    const out = await cg.run(feeds, { y: null, present_k: null, present_v: null });
    if (pastKeyTransposed(mode)) writeNewKeysTransposed(kb, out.present_k!, feeds[KV_PAST_LENGTH_INPUT]!.data as Int32Array);
    else writeNewKv(kb, out.present_k!, feeds[KV_PAST_LENGTH_INPUT]!.data as Int32Array);
    writeNewKv(vb, out.present_v!, feeds[KV_PAST_LENGTH_INPUT]!.data as Int32Array);
    return out;
  };
  try {
    const xs = prompts.map((n, b) => randomUniform(700 + b, [1, n + steps, D], -1, 1, 'float32'));
    const refs = await Promise.all(xs.map((x, b) => evaluate(buildBlock(false), { x, pos: positions(1, 0, prompts[b]! + steps) }, { params: PARAMS })));
    const slot = NKV * cap * HD;
    // Unfilled positions hold stale values (as after a truncation): they must be ignored.
    const kShape = (rows: number) => (pastKeyTransposed(mode) ? [rows, NKV, HD, cap] : [rows, NKV, cap, HD]);
    const k = f32(kShape(B), new Float32Array(B * slot).fill(37.5));
    const v = f32([B, NKV, cap, HD], new Float32Array(B * slot).fill(-55));
    const len = (n: number[]): HostTensor => ({ dtype: 'int32', shape: [n.length], data: Int32Array.from(n) });
    let maxErr = 0;
    // Prefill each row alone through views of its part of the batch buffer.
    for (let b = 0; b < B; b++) {
      const kb = f32(kShape(1), new Float32Array(0));
      kb.data = (k.data as Float32Array).subarray(b * slot, (b + 1) * slot);
      const vb: HostTensor = { dtype: 'float32', shape: [1, NKV, cap, HD], data: (v.data as Float32Array).subarray(b * slot, (b + 1) * slot) };
      const out = await run({ x: rows(xs[b]!, 0, prompts[b]!), pos: positions(1, 0, prompts[b]!), past_k: kb, past_v: vb, [KV_PAST_LENGTH_INPUT]: len([0]) }, kb, vb);
      const c = compareTensors(`prefill row ${b}`, out.y!, rows(refs[b]!.y!, 0, prompts[b]!));
      maxErr = Math.max(maxErr, c.maxAbs / Math.max(1, c.maxRef));
    }
    for (let s = 0; s < steps; s++) {
      const x = new Float32Array(B * D);
      const pos = new BigInt64Array(B);
      const past = prompts.map((n) => n + s);
      for (let b = 0; b < B; b++) {
        x.set((rows(xs[b]!, past[b]!, 1).data as Float32Array), b * D);
        pos[b] = BigInt(past[b]!);
      }
      const out = await run({ x: f32([B, 1, D], x), pos: { dtype: 'int64', shape: [B, 1], data: pos }, past_k: k, past_v: v, [KV_PAST_LENGTH_INPUT]: len(past) }, k, v);
      for (let b = 0; b < B; b++) {
        const got = f32([1, 1, D], (out.y!.data as Float32Array).subarray(b * D, (b + 1) * D));
        const c = compareTensors(`step ${s} row ${b}`, got, rows(refs[b]!.y!, past[b]!, 1));
        maxErr = Math.max(maxErr, c.maxAbs / Math.max(1, c.maxRef));
      }
    }
    t.diagnostic(`${mode} ragged batch 3: max rel err ${maxErr.toExponential(2)}`);
    assert.ok(maxErr <= TOL.float32, `${maxErr}`);
  } finally {
    await cg.dispose();
  }
});
