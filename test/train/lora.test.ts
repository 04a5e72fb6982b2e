// LoRA: training on a frozen base touches only the adapter (base files byte-identical), the
// adapter is saved in the PEFT layout, unmerged (adapter as extra graph params) and merged
// (`slm merge`) logits agree, and an interrupted LoRA run with dropout resumes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runTraining } from '../../src/train/run.ts';
import { writeHfModelFolder, writeTokenizerFiles } from '../../src/train/hf-output.ts';
import { MergedLoraStore, OverlayStore, loadPeftAdapter, loraAdapter, type LoraConfig } from '../../src/train/lora.ts';
import { llama } from '../../src/models/llama.ts';
import { CheckpointStore } from '../../src/models/checkpoint-store.ts';
import { decoderGraph } from '../../src/models/runners.ts';
import { openSafetensors } from '../../src/formats/safetensors.ts';
import { openCheckpoint } from '../../src/formats/open-checkpoint.ts';
import { compile } from '../../src/runtime/session.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import type { LinearAdapter, WeightStore } from '../../src/nn/var-builder.ts';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { main } from '../../src/cli/main.ts';
import { makeFixture, runConfig, tinyLlamaInit, type Fixture } from './fixture.ts';

const hashDir = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));

async function makeBase(f: Fixture): Promise<{ dir: string; config: ReturnType<typeof llama.parseConfig> }> {
  const tok = await loadTokenizer(f.tokDir);
  const config = llama.parseConfig({ ...tinyLlamaInit, vocab_size: tok.vocabSize, bos_token_id: tok.bosId, eos_token_id: tok.eosId });
  const store = randomWeights(listWeights(llama, config), 11, 0.1);
  const weights = [...store.tensors].map(([name, t]) => ({ name, ...t }));
  const dir = join(f.dir, 'base');
  await writeHfModelFolder(dir, { arch: llama, config, weights });
  writeTokenizerFiles(dir, f.tokDir, tok);
  return { dir, config };
}

async function logits(config: unknown, store: WeightStore, adapter?: LinearAdapter): Promise<Float32Array> {
  const g = decoderGraph(llama, config as never, store, { dtype: 'float32', linear: 'float32', linearAdapter: adapter }, { cache: false, lastLogitsOnly: false });
  const cg = await compile(g, { threads: 1, cacheDir: false });
  const ids = [5, 17, 42, 9, 100, 3, 250];
  const out = await cg.run({
    input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
    position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, i) => BigInt(i)) },
  });
  await cg.dispose();
  return out.logits!.data as Float32Array;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
const lora = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] };

test('LoRA trains only the adapter; PEFT layout; merged and unmerged logits agree; slm merge', async (t) => {
  const f = await makeFixture();
  const base = await makeBase(f);
  const before = hashDir(base.dir);
  const out = join(f.dir, 'lora');
  const r = await runTraining(runConfig(f, out, { init: undefined, tokenizer: undefined, model: base.dir, lora, steps: 8, lr: 1e-2 }));
  t.diagnostic(`losses ${r.losses.map((l) => l.toFixed(3)).join(' ')}`);
  assert.equal(r.stopped, 'completed');
  assert.equal(r.trainableParameters, 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4)); // 2 layers × (q: A, B; v: A, B)
  assert.deepEqual(hashDir(base.dir), before, 'base files are byte-identical after training');

  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.task_type, 'CAUSAL_LM');
  assert.deepEqual([cfg.r, cfg.lora_alpha, cfg.lora_dropout, cfg.target_modules, cfg.base_model_name_or_path], [4, 8, 0.1, ['q_proj', 'v_proj'], base.dir]);
  const st = await openSafetensors(join(out, 'adapter_model.safetensors'));
  const expected = [0, 1].flatMap((l) => ['q_proj', 'v_proj'].flatMap((p) => ['A', 'B'].map((ab) => `base_model.model.model.layers.${l}.self_attn.${p}.lora_${ab}.weight`)));
  assert.deepEqual([...st.tensors.keys()].sort(), expected.sort());
  assert.deepEqual(st.tensors.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')!.shape, [16, 4]);
  assert.equal(st.metadata.format, 'pt');
  assert.ok((await st.readF32('base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight')).some((x) => x !== 0), 'B moved from its zero init');
  await st.close();
  // checkpoints hold the adapter and its moments only
  const opt = await openSafetensors(join(out, 'checkpoint-8', 'optimizer.safetensors'));
  assert.equal(opt.tensors.size, 2 * expected.length);
  await opt.close();

  const adapter = await loadPeftAdapter(out);
  assert.deepEqual(adapter.config, { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false });
  const ck = await openCheckpoint(base.dir);
  const baseStore = new CheckpointStore(ck);
  const plain = await logits(base.config, baseStore);
  const unmerged = await logits(base.config, new OverlayStore([adapter.weights, baseStore]), loraAdapter(adapter.config as LoraConfig));
  const merged = await logits(base.config, new MergedLoraStore(baseStore, adapter.weights, adapter.config));
  t.diagnostic(`|unmerged - base| = ${maxDiff(unmerged, plain).toExponential(2)}, |merged - unmerged| = ${maxDiff(merged, unmerged).toExponential(2)}`);
  assert.ok(maxDiff(unmerged, plain) > 1e-3, 'the adapter changes the output');
  assert.ok(maxDiff(merged, unmerged) < 1e-5);
  await ck.close();

  const mergedDir = join(f.dir, 'merged');
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d) => (text += d));
  assert.equal(await main(['merge', base.dir, out, mergedDir, '--json'], { stdout, stderr: new PassThrough() }), 0);
  assert.equal(JSON.parse(text).merged_layers, 4);
  const mck = await openCheckpoint(mergedDir);
  const fromFolder = await logits(base.config, new CheckpointStore(mck));
  assert.ok(maxDiff(fromFolder, unmerged) < 1e-5);
  assert.equal((await loadTokenizer(mergedDir)).vocabSize, (await loadTokenizer(base.dir)).vocabSize);
  await mck.close();
});

test('an interrupted LoRA run with dropout resumes exactly (RNG state restored)', async () => {
  const f = await makeFixture();
  const base = await makeBase(f);
  const over = { init: undefined, tokenizer: undefined, model: base.dir, lora: { ...lora, dropout: 0.3 }, evalEvery: 0 };
  const whole = await runTraining(runConfig(f, join(f.dir, 'whole'), over));
  const ctl = new AbortController();
  const cut = await runTraining(runConfig(f, join(f.dir, 'cut'), over), { signal: ctl.signal, onStep: (m) => m.step === 3 && ctl.abort() });
  const rest = await runTraining(runConfig(f, join(f.dir, 'cut'), { ...over, resume: true }));
  assert.deepEqual([...cut.losses, ...rest.losses], whole.losses);
  // and dropout is live: another rate's masks give another trajectory
  const other = await runTraining(runConfig(f, join(f.dir, 'other'), { ...over, lora: { ...lora, dropout: 0.9 } }));
  assert.notDeepEqual(other.losses, whole.losses);
});
