// The trained model saved as a Hugging Face folder reloads (config.json + model.safetensors
// through CheckpointStore) with logits equal to the in-memory trained weights', its tokenizer
// loads, and it generates the same greedy tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trainer } from '../../src/train/trainer.ts';
import { writeHfModelFolder, writeTokenizerFiles } from '../../src/train/hf-output.ts';
import { causalLMArch } from '../../src/models/registry.ts';
import { openModelFolder } from '../../src/formats/model-folder.ts';
import { CheckpointStore } from '../../src/models/checkpoint-store.ts';
import { decoderGraph, interpreterDecoderRunners } from '../../src/models/runners.ts';
import { KvDecoderSession } from '../../src/models/decoder-session.ts';
import { compile } from '../../src/runtime/session.ts';
import { MemoryWeightStore, listWeights, randomWeights } from '../../src/nn/init-store.ts';
import type { WeightStore } from '../../src/nn/var-builder.ts';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { BatchIterator, PackedRows, loadTokenizedCorpus } from '../../src/data/index.ts';
import { makeFixture, overfitTrainerOptions, tinyLlamaInit, tinyPhiInit } from './fixture.ts';

async function logits(arch: ReturnType<typeof causalLMArch>, config: unknown, store: WeightStore, ids: number[]): Promise<Float32Array> {
  const g = decoderGraph(arch, config, store, { dtype: 'float32', linear: 'float32' }, { cache: false, lastLogitsOnly: false });
  const cg = await compile(g, { threads: 1, cacheDir: false });
  const out = await cg.run({
    input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
    position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, i) => BigInt(i)) },
  });
  await cg.dispose();
  return out.logits!.data as Float32Array;
}

async function greedy(arch: ReturnType<typeof causalLMArch>, config: unknown, store: WeightStore, prompt: number[], n: number): Promise<number[]> {
  const s = new KvDecoderSession(arch.vocabSize(config), 64, arch.kvLayout(config), 'float32', interpreterDecoderRunners(arch, config, store, { dtype: 'float32', linear: 'float32' }));
  const ids: number[] = [];
  let next = prompt;
  for (let i = 0; i < n; i++) {
    const [[row]] = (await s.forward([next])) as [[Float32Array]];
    const best = row.reduce((bi, v, j) => (v > row[bi]! ? j : bi), 0);
    ids.push(best);
    next = [best];
  }
  return ids;
}

for (const init of [tinyLlamaInit, { ...tinyPhiInit, tie_word_embeddings: true }]) {
  test(`${init.model_type}: saved HF folder reloads with identical logits and generates`, async (t) => {
    const f = await makeFixture();
    const tok = await loadTokenizer(f.tokDir);
    const arch = causalLMArch(init.model_type);
    const config = arch.parseConfig({ ...init, vocab_size: tok.vocabSize, bos_token_id: tok.bosId, eos_token_id: tok.eosId, pad_token_id: null });
    const data = await loadTokenizedCorpus([f.dataFile], { encode: (s) => tok.encode(s, { addSpecialTokens: false }), tokenizerId: 'fixture', documentSeparator: '\n\n', cacheDir: join(f.dir, 'tc') });
    const trainer = await Trainer.create(
      overfitTrainerOptions({
        arch,
        config,
        store: randomWeights(listWeights(arch, config), 1, 0.02),
        train: new BatchIterator(new PackedRows(data.corpus, { seqLen: 16, eosId: tok.eosId!, seed: 0 }), 4),
        batchSize: 4,
        seqLen: 16,
        steps: 25,
        schedule: { kind: 'cosine', lr: 1e-2, minLr: 1e-3, warmupSteps: 2, decaySteps: 25 },
        outDir: join(f.dir, 'run'),
      }),
    );
    const r = await trainer.run();
    const trained = trainer.weights().map((w) => ({ ...w, data: Float32Array.from(w.data) }));
    await trainer.dispose();
    t.diagnostic(`loss ${r.losses[0]!.toFixed(3)} -> ${r.loss.toFixed(3)}`);
    const memory = new MemoryWeightStore(new Map(trained.map((w) => [w.name, { shape: w.shape, data: w.data as Float32Array }])));

    const dir = mkdtempSync(join(tmpdir(), 'slm-hf-'));
    await writeHfModelFolder(dir, { arch, config, weights: trained, bosTokenId: tok.bosId, eosTokenId: tok.eosId });
    writeTokenizerFiles(dir, f.tokDir, tok);
    for (const file of ['config.json', 'model.safetensors', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(dir, file)), file);

    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(hf.model_type, init.model_type);
    assert.deepEqual(hf.architectures, [init.model_type === 'llama' ? 'LlamaForCausalLM' : 'PhiForCausalLM']);
    assert.equal(hf.eos_token_id, tok.eosId);
    assert.equal(hf.torch_dtype, 'float32');
    assert.equal(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')).eos_token_id, tok.eosId);

    const folder = await openModelFolder(dir);
    const reArch = causalLMArch(folder.modelType);
    const reConfig = reArch.parseConfig(folder.config);
    assert.deepEqual(reConfig, config);
    const ck = await folder.openWeights();
    assert.equal((ck as unknown as { metadata: Record<string, string> }).metadata.format, 'pt', 'transformers requires metadata format=pt');
    // Exactly the model's tensors, HF names (tied: no lm_head).
    assert.deepEqual([...ck.tensors.keys()].sort(), [...listWeights(arch, config).keys()].sort());
    const store = new CheckpointStore(ck);

    const ids = tok.encode('the cat sees the moon.', { addSpecialTokens: false });
    const [a, b] = [await logits(arch, config, memory, ids), await logits(reArch, reConfig, store, ids)];
    assert.deepEqual(b, a, 'reloaded logits equal the in-memory weights\' logits');

    const [g1, g2] = [await greedy(arch, config, memory, ids, 5), await greedy(reArch, reConfig, store, ids, 5)];
    assert.deepEqual(g2, g1);
    const reTok = await loadTokenizer(dir);
    t.diagnostic(`greedy continuation: ${JSON.stringify(reTok.decode(g2))}`);
    assert.equal(reTok.vocabSize, tok.vocabSize);
    await ck.close();
  });
}
