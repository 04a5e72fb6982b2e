// Batched decode in the shared-buffer KV session: decode steps of several sequences run as
// one onnxruntime run (ragged lengths, one slot per sequence), and must give the logits of
// (a) the same session driven one sequence per call and (b) the float64-oracle interpreter.
// The schedule covers ragged prompts, sequences finishing at different steps, sequences
// joining while others decode (a prompt chunk and a one-token prompt in the same call as
// decode rows), truncation for prefix reuse, a freed slot, a finished sequence resuming
// (its slot moved back into the batch) and buffer growth in the middle of batched decode.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCausalLM } from '../../src/models/load.ts';
import { SharedKvDecoderSession } from '../../src/models/decoder-session.ts';
import type { DecoderSession } from '../../src/generate/types.ts';
import { generateBatch } from '../../src/generate/generate-batch.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { writeTinyModel, TINY_VOCAB } from './fixture-model.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-cache-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

const toks = (n: number, salt: number) => Array.from({ length: n }, (_, i) => (i * 31 + salt * 17 + 5) % TINY_VOCAB);

/** One forward call per row: the one-by-one way, on any session. */
async function oneByOne(s: DecoderSession, rows: number[][], seqs: number[]): Promise<Float32Array[][]> {
  const out: Float32Array[][] = [];
  for (let i = 0; i < rows.length; i++) out.push((await s.forward([rows[i]!], { seqs: [seqs[i]!] }))[0]!);
  return out;
}

// Buffer modes: 'shared' (buffer fetched back whole), 'append' / 'append-gqa' (only new K/V fetched).
for (const [kind, kvMode] of [['llama', 'shared'], ['phi', 'shared'], ['llama', 'append'], ['phi', 'append'], ['llama', 'append-gqa']] as const) {
  test(`${kind}, ${kvMode} KV: batched decode = one-by-one decode = interpreter (ragged, join, finish, truncate)`, async (t) => {
    const files = await writeTinyModel(kind, 11, 0.3);
    const ort = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1, kvMode });
    const interp = await loadCausalLM(files.folder, { dtype: 'f32', backend: 'interpreter' });
    const batched = ort.createSession() as SharedKvDecoderSession;
    const single = ort.createSession() as SharedKvDecoderSession;
    const ref = interp.createSession();
    assert.ok(batched instanceof SharedKvDecoderSession);
    let vsSingle = 0;
    let vsRef = 0;
    /**
     * Feeds one call to all three sessions; checks the run count (one per multi-token row, one
     * per capacity bucket of the one-token rows) and compares the logits.
     */
    const step = async (rows: number[][], seqs: number[]) => {
      const before = batched.runCount;
      const a = await batched.forward(rows, { seqs });
      const buckets = new Set(seqs.filter((_, i) => rows[i]!.length === 1).map((s) => batched.capacity(s)));
      const expectRuns = buckets.size + rows.filter((r) => r.length > 1).length;
      assert.equal(batched.runCount - before, expectRuns, `runs for rows of ${rows.map((r) => r.length)} tokens`);
      const b = await oneByOne(single, rows, seqs);
      const r = await oneByOne(ref, rows, seqs);
      for (let i = 0; i < rows.length; i++) {
        assert.equal(a[i]!.length, 1);
        vsSingle = Math.max(vsSingle, maxAbsDiff(a[i]![0]!, b[i]![0]!));
        vsRef = Math.max(vsRef, maxAbsDiff(a[i]![0]!, r[i]![0]!));
        assert.equal(batched.cachedLength(seqs[i]!), ref.cachedLength(seqs[i]!));
        assert.equal(single.cachedLength(seqs[i]!), ref.cachedLength(seqs[i]!));
      }
      return a.map((x) => argmax(x[0]!));
    };

    // Ragged prompts (59, 3 and 7 tokens) in one call: each is a prefill run of its own.
    const next = new Map<number, number>();
    const feed = async (seqs: number[], rows: number[][]) => {
      const picks = await step(rows, seqs);
      seqs.forEach((s, i) => next.set(s, picks[i]!));
    };
    await feed([0, 1, 2], [toks(59, 0), toks(3, 1), toks(7, 2)]);
    assert.equal(batched.runCount, 3);
    assert.equal(batched.capacity(0), 64);
    const decode = (seqs: number[], extra: { seqs: number[]; rows: number[][] } = { seqs: [], rows: [] }) =>
      feed([...seqs, ...extra.seqs], [...seqs.map((s) => [next.get(s)!]), ...extra.rows]);
    for (let i = 0; i < 4; i++) await decode([0, 1, 2]); // seq 0 reaches 63
    assert.equal(batched.runCount, 3 + 4, 'one run per step for three sequences');
    await decode([0, 2]); // seq 1 finished (its cache stays)
    await decode([2, 0], { seqs: [3], rows: [toks(5, 3)] }); // seq 3 joins with a prompt; seq 0 reaches 65
    assert.equal(batched.capacity(0), 128, 'seq 0 moved to the next capacity bucket during batched decode');
    assert.equal(batched.capacity(2), 64);
    await decode([0, 2, 3], { seqs: [4], rows: [[7]] }); // seq 4 joins with a one-token prompt, batched
    // Prefix reuse: seq 0 cut back and fed a chunk while the others decode.
    for (const s of [batched, single, ref]) s.truncate(0, 20);
    await decode([2, 3, 4], { seqs: [0], rows: [toks(3, 9)] });
    // seq 2 cleared (its slot is freed and refilled by the last one) and given a new prompt.
    for (const s of [batched, single, ref]) s.truncate(2, 0);
    assert.equal(batched.capacity(2), 0);
    await decode([4, 0, 3], { seqs: [2], rows: [toks(4, 5)] });
    // The finished seq 1 resumes: its slot lies outside the batch and is swapped in.
    for (let i = 0; i < 3; i++) await decode([3, 1, 2, 0, 4]);
    // Two sequences in the 128 bucket decode as one batch there.
    for (const s of [batched, single, ref]) s.truncate(3, 0);
    await feed([3], [toks(70, 6)]);
    assert.equal(batched.capacity(3), 128);
    const before = batched.runCount;
    await decode([0, 3, 1]);
    assert.equal(batched.runCount - before, 2, 'one run for the 128 bucket (seqs 0, 3), one for the 64 bucket');
    await decode([1]); // a single row runs alone
    t.diagnostic(`${kind} ${kvMode}: batched vs one-by-one max |dlogit| = ${vsSingle.toExponential(2)}, vs interpreter ${vsRef.toExponential(2)}`);
    assert.ok(vsSingle < 1e-5, `batched differs from one-by-one by ${vsSingle}`);
    assert.ok(vsRef < 1e-4, `batched differs from the interpreter by ${vsRef}`);
    await ort.dispose();
    await interp.dispose();
  });
}

test('a call naming a sequence twice runs its rows in order (no batching)', async () => {
  const files = await writeTinyModel('llama', 12, 0.3);
  const m = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1 });
  const a = m.createSession() as SharedKvDecoderSession;
  const b = m.createSession();
  const got = await a.forward([[3, 4], [5], [6]], { seqs: [0, 0, 1] });
  assert.equal(a.runCount, 3);
  const want = [await b.forward([[3, 4]]), await b.forward([[5]]), await b.forward([[6]], { seqs: [1] })];
  for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(got[i]![0]!, want[i]![0]![0]!) < 1e-5);
  assert.equal(a.cachedLength(0), 3);
  await assert.rejects(a.forward([[1], [TINY_VOCAB]], { seqs: [0, 1] }), /outside the vocabulary/);
  assert.equal(a.cachedLength(0), 3, 'a rejected call feeds nothing');
  await m.dispose();
});

test('generateBatch on onnxruntime: one run per decode step, same tokens as one-by-one and the interpreter', async (t) => {
  const files = await writeTinyModel('llama', 13, 0.3);
  const ort = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1 });
  const interp = await loadCausalLM(files.folder, { dtype: 'f32', backend: 'interpreter' });
  const codec = codecFromTokenizer(ort.tokenizer);
  const prompts = [toks(9, 1), toks(2, 2), toks(14, 3), toks(5, 4)];
  const maxTokens = [6, 10, 3, 8];
  const perSequence = maxTokens.map((n) => ({ maxTokens: n }));
  const session = ort.createSession() as SharedKvDecoderSession;
  const batch = await generateBatch(session, codec, prompts, { temperature: 0, stopTokenIds: [], perSequence }).done();
  // Prefill: one run per prompt. Decode: maxTokens - 1 forwards per sequence (the first token
  // comes from the prefill logits), as one run per step while two or more sequences are live.
  const steps = Math.max(...maxTokens) - 1;
  const lone = steps - [...maxTokens].sort((x, y) => x - y).at(-2)! + 1;
  assert.equal(session.runCount, prompts.length + steps, `runs (${lone} steps with one live sequence)`);
  for (const [name, model] of [['one-by-one', ort], ['interpreter', interp]] as const) {
    for (let i = 0; i < prompts.length; i++) {
      const one = await generate(model.createSession(), codec, prompts[i]!, { temperature: 0, stopTokenIds: [], maxTokens: maxTokens[i] }).done();
      assert.equal(batch[i]!.tokens.length, maxTokens[i]);
      assert.deepEqual(batch[i]!.tokens, one.tokens, `${name}, prompt ${i}`);
    }
  }
  t.diagnostic(`batched greedy tokens: ${batch.map((r) => r.tokens.join(',')).join(' | ')}`);
  await ort.dispose();
  await interp.dispose();
});
