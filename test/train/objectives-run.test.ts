// Whole `slm train` runs with the new objectives on the fixture corpus: a ul2r run interrupted
// and resumed repeats the uninterrupted one bit for bit; the special tokens are added when
// training from scratch and grow a fine-tuned model's vocabulary; a roberta trained with mlm is written
// as a Hugging Face folder that reloads (strict tensor check) and reproduces the run's
// held-out loss; decoders and encoders refuse the wrong objective.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTraining } from '../../src/train/run.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { openSafetensors } from '../../src/formats/safetensors.ts';
import { trainBpeFromFiles, writeTokenizerJson } from '../../src/tokenizer-train/index.ts';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { loadTokenizedCorpus, numDocuments, splitDocuments, PackedRows, IGNORE_INDEX } from '../../src/data/index.ts';
import { objectiveData, objectiveTokens } from '../../src/train/objectives/index.ts';
import { openMaskedLM, robertaPositionIds } from '../../src/models/roberta.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { compile } from '../../src/runtime/session.ts';
import { createHash } from 'node:crypto';
import { SlmError, UnsupportedError } from '../../src/errors.ts';
import { makeFixture, runConfig, tinyPhiInit } from './fixture.ts';

test('ul2r: resume after an interruption repeats the uninterrupted run bit for bit', async (t) => {
  const f = await makeFixture();
  const whole = await runTraining(runConfig(f, join(f.dir, 'whole'), { objective: 'ul2r', seqLen: 24 }));
  const tok = JSON.parse(readFileSync(join(f.dir, 'whole', 'tokenizer.json'), 'utf8')) as { added_tokens: { content: string; special: boolean }[] };
  const added = tok.added_tokens.filter((a) => a.special).map((a) => a.content);
  for (const name of ['[NLU]', '[S2S]', '[NLG]', '<extra_id_0>']) assert.ok(added.includes(name), `saved tokenizer has ${name}`);
  const cfg = JSON.parse(readFileSync(join(f.dir, 'whole', 'config.json'), 'utf8')) as { vocab_size: number };
  assert.equal(cfg.vocab_size, f.vocabSize + added.length - 1, 'vocab_size counts the added tokens');

  const ctl = new AbortController();
  const cut = await runTraining(runConfig(f, join(f.dir, 'cut'), { objective: 'ul2r', seqLen: 24 }), { signal: ctl.signal, onStep: (m) => m.step === 3 && ctl.abort() });
  assert.equal(cut.step, 3);
  const resumed = await runTraining(runConfig(f, join(f.dir, 'cut'), { objective: 'ul2r', seqLen: 24, resume: true }));
  const trajectory = [...cut.losses, ...resumed.losses];
  t.diagnostic(`losses ${whole.losses.map((l) => l.toFixed(4)).join(' ')}; eval ${whole.evalLoss}`);
  assert.deepEqual(trajectory, whole.losses, 'identical losses');
  assert.equal(resumed.evalLoss, whole.evalLoss);
  const [a, b] = [await openSafetensors(join(f.dir, 'whole', 'model.safetensors')), await openSafetensors(join(f.dir, 'cut', 'model.safetensors'))];
  for (const name of a.tensors.keys()) assert.deepEqual(await b.readF32(name), await a.readF32(name), name);
  await a.close();
  await b.close();
  assert.deepEqual(readMetrics(join(f.dir, 'cut', 'metrics.jsonl')).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  // Resuming under another objective is refused (the trajectory settings differ).
  await assert.rejects(runTraining(runConfig(f, join(f.dir, 'cut'), { objective: 'span-corruption', seqLen: 24, resume: true, steps: 8 })), /settings changed \(objective/);

  // Fine-tuning with a tokenizer that has the tokens: nothing to add.
  const model = join(f.dir, 'whole');
  const ft = (over: Parameters<typeof runConfig>[2], out = join(f.dir, `ft-${Math.random()}`)) => runTraining(runConfig(f, out, { init: undefined, model, steps: 1, evalEvery: 0, seqLen: 24, ...over }));
  await assert.rejects(ft({ objective: 'mlm', tokenizer: model }), (e: unknown) => e instanceof SlmError && /mlm needs a bidirectional encoder/.test(e.message));
  const ok = await ft({ objective: 'span-corruption', tokenizer: model });
  assert.equal(ok.step, 1);
});

test('ul2r continued training of a causal LM whose tokenizer lacks the mode tokens: the vocabulary grows, old rows are kept, new rows start at the mean', async () => {
  const f = await makeFixture();
  const base = join(f.dir, 'base');
  await runTraining(runConfig(f, base, { steps: 2, evalEvery: 0, seqLen: 24 }));
  const baseCfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as { vocab_size: number; tie_word_embeddings?: boolean };
  const out = join(f.dir, 'ul2r-ft');
  // lr 1e-30: one AdamW step moves no float32 weight, so the saved rows are what training started from.
  const r = await runTraining(runConfig(f, out, { init: undefined, model: base, objective: 'ul2r', steps: 1, evalEvery: 0, seqLen: 24, lr: 1e-30, warmupSteps: 0 }));
  assert.equal(r.step, 1);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { vocab_size: number };
  const tok = await loadTokenizer(out);
  assert.ok(tok.tokenToId('[S2S]')! >= baseCfg.vocab_size, 'mode tokens got new ids');
  assert.equal(cfg.vocab_size, tok.vocabSize, 'vocab_size grew to the tokenizer');
  assert.ok(cfg.vocab_size > baseCfg.vocab_size);
  const [a, b] = [await openSafetensors(join(base, 'model.safetensors')), await openSafetensors(join(out, 'model.safetensors'))];
  const name = 'model.embed_tokens.weight';
  const before = await a.readF32(name);
  const after = await b.readF32(name);
  const hidden = before.length / baseCfg.vocab_size;
  assert.equal(after.length, cfg.vocab_size * hidden);
  assert.deepEqual(after.subarray(0, before.length), before, 'existing rows unchanged');
  for (let j = 0; j < hidden; j++) {
    let mean = 0;
    for (let r = 0; r < baseCfg.vocab_size; r++) mean += before[r * hidden + j]!;
    mean /= baseCfg.vocab_size;
    for (let r = baseCfg.vocab_size; r < cfg.vocab_size; r++) assert.ok(Math.abs(after[r * hidden + j]! - mean) < 1e-6, `row ${r} col ${j} is the mean`);
  }
  await a.close();
  await b.close();
  // The grown model loads and runs over the new ids.
  const lm = await loadCausalLM(out);
  try {
    const s = lm.createSession();
    const [rows] = await s.forward([[tok.tokenToId('[S2S]')!, 1, 2]]);
    assert.equal(rows![0]!.length, cfg.vocab_size);
    await s.dispose();
  } finally {
    await lm.dispose();
  }
  // LoRA cannot train the new rows: refused with a clear error.
  await assert.rejects(
    runTraining(runConfig(f, join(f.dir, 'ul2r-lora'), { init: undefined, model: base, objective: 'ul2r', steps: 1, evalEvery: 0, seqLen: 24, lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] } })),
    (e: unknown) => e instanceof SlmError && /LoRA keeps the embeddings frozen/.test(e.message),
  );
});

test('span-corruption on phi from scratch trains and evaluates', async () => {
  const f = await makeFixture();
  const r = await runTraining(runConfig(f, join(f.dir, 'sc'), { init: tinyPhiInit, objective: 'span-corruption', spanCorruption: { noiseDensity: 0.3, meanSpanLength: 2 }, seqLen: 24, steps: 12, evalEvery: 12 }));
  assert.equal(r.modelType, 'phi');
  assert.ok(Number.isFinite(r.evalLoss!) && r.evalLoss! < r.losses[0]!, `eval ${r.evalLoss} vs first ${r.losses[0]}`);
});

test('roberta mlm: trains, saves a HF folder that reloads and reproduces the held-out loss', async (t) => {
  const f = await makeFixture();
  const tokDir = join(f.dir, 'roberta-tok');
  mkdirSync(tokDir);
  const bpe = await trainBpeFromFiles([f.dataFile], { vocabSize: 320, minFrequency: 2, specialTokens: ['<s>', '<pad>', '</s>', '<unk>', '<mask>'] });
  writeTokenizerJson(bpe.model, join(tokDir, 'tokenizer.json'));
  const init = { model_type: 'roberta', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 24, type_vocab_size: 1, layer_norm_eps: 1e-5 };
  const out = join(f.dir, 'mlm');
  const cfg = runConfig(f, out, { init, tokenizer: tokDir, objective: 'mlm', seqLen: 20, steps: 30, evalEvery: 30, evalBatches: 2, lr: 2e-3 });
  const r = await runTraining(cfg);
  t.diagnostic(`loss ${r.losses[0]!.toFixed(3)} -> ${r.loss.toFixed(3)}, eval ${r.evalLoss}`);
  assert.equal(r.modelType, 'roberta');
  const hfCfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(hfCfg.architectures, ['RobertaForMaskedLM']);
  assert.equal(hfCfg.pad_token_id, 1);

  // Reload strictly (every tensor present, well-shaped, used) and recompute the held-out loss.
  const m = await openMaskedLM(out);
  const cg = await compile(m.graph('float32'), { cacheDir: false, threads: 1 });
  try {
    const tok = await loadTokenizer(out);
    assert.equal(tok.tokenToId('<mask>'), 4);
    const tokens = objectiveTokens(cfg, tok, { add: false, source: out });
    const data = await loadTokenizedCorpus([f.dataFile], { encode: (s) => tok.encode(s, { addSpecialTokens: false }), tokenizerId: createHash('sha256').update(JSON.stringify(tok.json)).digest('hex'), documentSeparator: cfg.documentSeparator, cacheDir: cfg.tokenCacheDir });
    const split = splitDocuments(numDocuments(data.corpus), cfg.heldOut, cfg.seed);
    const pack = { seqLen: cfg.seqLen, eosId: tok.eosId!, seed: cfg.seed };
    const rows = { train: new PackedRows(data.corpus, { ...pack, documents: split.train }), heldOut: new PackedRows(data.corpus, { ...pack, documents: split.heldOut, shuffle: false }) };
    const od = objectiveData(cfg, m.arch, m.config, tokens, tok.eosId!, rows);
    const B = cfg.batchSize;
    const S = cfg.seqLen;
    const nRows = Math.min(od.heldOut!.rowCount, cfg.evalBatches * B);
    let sum = 0;
    let count = 0;
    for (let first = 0; first < nRows; first += B) {
      const bt = od.heldOut!.batch(first, Math.min(B, nRows - first), B);
      const logits = (await cg.run({
        input_ids: { dtype: 'int64', shape: [B, S], data: BigInt64Array.from(bt.inputs, BigInt) },
        position_ids: { dtype: 'int64', shape: [B, S], data: robertaPositionIds(bt.inputs, B, S, m.config.padTokenId) },
        attention_mask: { dtype: 'int64', shape: [B, S], data: new BigInt64Array(B * S).fill(1n) },
      })).logits!.data as Float32Array;
      const V = m.config.vocabSize;
      for (let i = 0; i < B * S; i++) {
        const target = bt.targets[i]!;
        if (target === IGNORE_INDEX) continue;
        const row = logits.subarray(i * V, (i + 1) * V);
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
        sum += lse - row[target]!;
        count++;
      }
    }
    t.diagnostic(`reloaded held-out loss ${(sum / count).toFixed(6)} over ${count} masked tokens; the run reported ${r.evalLoss!.toFixed(6)}`);
    assert.ok(count > 0);
    assert.ok(Math.abs(sum / count - r.evalLoss!) < 1e-4, `reloaded ${sum / count} vs run ${r.evalLoss}`);
  } finally {
    await cg.dispose();
    await m.close();
  }
  // Generation needs a decoder.
  await assert.rejects(loadCausalLM(out), (e: unknown) => e instanceof UnsupportedError && /cannot generate/.test(e.message));
  // And a decoder objective on roberta is refused.
  await assert.rejects(runTraining(runConfig(f, join(f.dir, 'bad'), { init, tokenizer: tokDir, objective: 'causal-lm', seqLen: 20, steps: 1 })), /causal-lm needs a decoder/);
});
