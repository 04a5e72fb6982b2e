// Cross-check against llama.cpp (node-llama-cpp, CPU): the same random-weight Llama- and
// Phi-2-shaped checkpoints, written by slmkit's writers as a Hugging Face folder (run by slmkit)
// and as GGUF (run by llama.cpp), must give the same logits and greedy tokens.
//
// llama.cpp's API gives probabilities, not logits: log p = logit - logsumexp, so logits are
// compared up to the per-row constant (centred log-probabilities). llama.cpp runs with a
// float32 KV cache and without flash attention (its defaults, F16 KV and FA on CPU, round
// activations to half precision: ~1e-3 differences that are llama.cpp's, not slmkit's).
//
// Weights: plain random, std 0.05 on every matrix (trained small models sit at 0.02-0.05),
// 4 layers, hidden 128, GQA 4/2 for Llama. The logit range is then ~3 with top-1/top-2 gaps of
// 0.05-0.3, which is below q4/q8 rounding noise: llama.cpp Q8_0 vs its own F32 disagrees on
// ~4% of teacher-forced positions and Q4_0 on ~35%. Tried and dropped: a larger LM-head scale
// (changes no argmax) and an LM head copied from the embedding (the layers still dominate).
// So the quantized test asserts what the fixture can decide — slmkit's quantized model is as
// close to float32 as llama.cpp's is — and reports the 95% cross-engine agreement target as a
// todo with the measured numbers.
//
// Phi-2: llama.cpp's CPU GELU reads a float16 lookup table (ggml's GGML_GELU_FP16), which
// rounds each activation to half precision; the float32 logits then differ by ~1e-3 (measured
// 1.2e-3 over 39 positions). That bound is a todo for Phi; tokens must still match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_VOCAB, tinyHfConfig, tinyTokenizerJson } from './fixture-model.ts';
import { loadCausalLM, type ModelDType } from '../../src/models/load.ts';
import { ggufTokenizerMetadata, saveGguf, saveHfFolder, type GgufWeightType } from '../../src/models/save.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { llama as llamaArch } from '../../src/models/llama.ts';
import { phi as phiArch } from '../../src/models/phi.ts';
import type { CausalLMArch } from '../../src/models/causal-lm.ts';

type NodeLlamaCpp = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;

let llamaCpp: { mod: NodeLlamaCpp; llama: Llama } | undefined;
let skipReason: string | false = false;
try {
  const mod = await import('node-llama-cpp');
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, progressLogs: false });
  llamaCpp = { mod, llama };
} catch (e) {
  skipReason = `node-llama-cpp cannot load on this machine: ${(e as Error).message.split('\n')[0]}`;
}

const WEIGHT_STD = 0.05;
const SHAPES = {
  llama: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 },
  phi: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 4 },
};
/** A random-weight model as an HF folder, plus its GGUF in any weight type. */
async function writeModel(kind: 'llama' | 'phi', seed: number) {
  const dir = mkdtempSync(join(tmpdir(), `slmkit-llamacpp-${kind}-`));
  const arch = (kind === 'llama' ? llamaArch : phiArch) as CausalLMArch<unknown>;
  const config = arch.parseConfig({ ...tinyHfConfig(kind), ...SHAPES[kind] });
  const store = randomWeights(listWeights(arch, config), seed, WEIGHT_STD);
  const tok = tinyTokenizerJson(TINY_VOCAB);
  const folder = join(dir, 'hf');
  await saveHfFolder(folder, { arch, config, store }, { files: { 'tokenizer.json': tok.json, 'tokenizer_config.json': tok.config } });
  return {
    folder,
    async gguf(type: GgufWeightType) {
      const file = join(dir, `model-${type}.gguf`);
      const meta = ggufTokenizerMetadata(JSON.parse(tok.json), { vocabSize: TINY_VOCAB, eos: 0, bos: 0 });
      await saveGguf(file, { arch, config, store }, { type, tokenizer: meta });
      return file;
    },
  };
}

const PROMPT = [5, 80, 3, 17, 200, 40, 11, 7];
const STEPS = 32;

function logSoftmax(r: Float32Array): Float64Array {
  let mx = -Infinity;
  for (const x of r) mx = Math.max(mx, x);
  let s = 0;
  for (const x of r) s += Math.exp(x - mx);
  const lse = mx + Math.log(s);
  return Float64Array.from(r, (x) => x - lse);
}

function argmax(r: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < r.length; i++) if (r[i]! > r[best]!) best = i;
  return best;
}

/** Max |log p_llama.cpp - log p_slmkit| over tokens whose probability float32 represents well. */
function logProbDiff(probs: Map<number, number>, logits: Float32Array): number {
  const lp = logSoftmax(logits);
  let worst = 0;
  for (const [tok, p] of probs) if (p > 1e-30) worst = Math.max(worst, Math.abs(Math.log(p) - lp[tok]!));
  return worst;
}

async function openLlamaCpp(gguf: string) {
  const model = await llamaCpp!.llama.loadModel({ modelPath: gguf });
  const context = await model.createContext({
    contextSize: 256,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  return { model, context, sequence: context.getSequence() };
}

type Token = import('node-llama-cpp').Token;
type EvalItem = import('node-llama-cpp').ControlledEvaluateInputItem;
const next = { generateNext: { probabilities: true, token: true, options: { temperature: 0 } } };
/** A token to feed, asking for the next-token distribution and the greedy pick. */
const withNext = (tok: number): EvalItem => [tok as Token, next];

for (const kind of ['llama', 'phi'] as const) {
  test(`${kind}: float32 logits and 32 greedy tokens equal llama.cpp's (F32 GGUF)`, { skip: skipReason, timeout: 60_000 }, async (t) => {
    const files = await writeModel(kind, 11);
    const cpp = await openLlamaCpp(await files.gguf('F32'));
    const slm = await loadCausalLM(files.folder, { dtype: 'f32', threads: 1, cacheDir: false });
    const s = slm.createSession();
    try {
      // Prompt: every position's next-token distribution.
      const out = await cpp.sequence.controlledEvaluate(PROMPT.map(withNext));
      const [rows] = await s.forward([PROMPT], { allLogits: true });
      let worst = 0;
      for (let i = 0; i < PROMPT.length; i++) worst = Math.max(worst, logProbDiff(out[i]!.next.probabilities! as Map<number, number>, rows![i]!));
      // Greedy decode, each engine feeding back its own choice.
      const cppTokens: number[] = [out.at(-1)!.next.token! as number];
      const slmTokens: number[] = [argmax(rows!.at(-1)!)];
      for (let step = 1; step < STEPS; step++) {
        const [r] = await cpp.sequence.controlledEvaluate([withNext(cppTokens.at(-1)!)]);
        const [[logits]] = (await s.forward([[slmTokens.at(-1)!]])) as [[Float32Array]];
        worst = Math.max(worst, logProbDiff(r!.next.probabilities! as Map<number, number>, logits));
        cppTokens.push(r!.next.token! as number);
        slmTokens.push(argmax(logits));
      }
      t.diagnostic(`${kind}: max |Δ centred logit| over ${PROMPT.length} prompt + ${STEPS - 1} decode positions = ${worst.toExponential(2)}`);
      t.diagnostic(`${kind}: greedy ${slmTokens.join(' ')}`);
      assert.deepEqual(slmTokens, cppTokens, 'greedy tokens differ');
      // The comparison is meaningful only if the model does not emit one token forever.
      assert.ok(new Set(slmTokens).size > 1, 'degenerate greedy sequence');
      const todo = kind === 'phi' ? "llama.cpp's GELU uses a float16 table (~1e-3 logit noise)" : undefined;
      await t.test('max |Δ centred logit| <= 1e-3', { todo }, () => {
        assert.ok(worst <= 1e-3, `logits differ from llama.cpp's by ${worst}`);
      });
    } finally {
      await s.dispose();
      await slm.dispose();
      await cpp.context.dispose();
      await cpp.model.dispose();
    }
  });
}

const QUANT: [ModelDType, GgufWeightType][] = [
  ['q8', 'Q8_0'],
  ['q4', 'Q4_0'],
];

for (const kind of ['llama', 'phi'] as const) {
  test(`${kind}: slmkit q8/q4 top-1 agrees with llama.cpp Q8_0/Q4_0 (teacher-forced)`, { skip: skipReason, timeout: 60_000 }, async (t) => {
    const files = await writeModel(kind, 13);
    // A fixed pseudo-random token stream, fed identically to both engines.
    const ids = Array.from({ length: 96 }, (_, i) => (i * 97 + 31) % 320);
    const ref = await loadCausalLM(files.folder, { dtype: 'f32', threads: 1, cacheDir: false });
    const [refRows] = await ref.createSession().forward([ids], { allLogits: true });
    await ref.dispose();
    for (const [dtype, ggufType] of QUANT) {
      const gguf = await files.gguf(ggufType);
      const cpp = await openLlamaCpp(gguf);
      const slm = await loadCausalLM(files.folder, { dtype, threads: 1, cacheDir: false });
      const slmG = await loadCausalLM(gguf, { dtype, threads: 1, cacheDir: false });
      try {
        const out = await cpp.sequence.controlledEvaluate(ids.map(withNext));
        const [rows] = await slm.createSession().forward([ids], { allLogits: true });
        const [rowsG] = await slmG.createSession().forward([ids], { allLogits: true });
        let agree = 0;
        let agreeG = 0;
        let cppRef = 0;
        let slmRef = 0;
        let worst = 0;
        for (let i = 0; i < ids.length; i++) {
          const c = out[i]!.next.token;
          const f = argmax(refRows![i]!);
          if (c === argmax(rows![i]!)) agree++;
          if (c === argmax(rowsG![i]!)) agreeG++;
          if (c === f) cppRef++;
          if (argmax(rows![i]!) === f) slmRef++;
          worst = Math.max(worst, logProbDiff(out[i]!.next.probabilities! as Map<number, number>, rowsG![i]!));
        }
        const n = ids.length;
        t.diagnostic(
          `${kind} ${dtype} (HF folder) vs llama.cpp ${ggufType}: top-1 agreement ${agree}/${n}; slmkit on the same GGUF ${agreeG}/${n}, ` +
            `max |Δ centred logit| ${worst.toFixed(3)}; agreement with slmkit float32: slmkit ${dtype} ${slmRef}/${n}, llama.cpp ${ggufType} ${cppRef}/${n}`,
        );
        // Layout or scale bugs drop agreement with float32 to chance (~1/320); rounding noise
        // costs both engines alike. Allow 3 positions of difference between two valid roundings.
        assert.ok(slmRef >= cppRef - 3, `slmkit ${dtype} agrees with float32 on ${slmRef}/${n}, llama.cpp ${ggufType} on ${cppRef}/${n}`);
        assert.ok(agreeG >= agree - 3 || agreeG / n >= 0.9, `slmkit on the GGUF's own codes agrees on ${agreeG}/${n}`);
        await t.test(`${dtype}: top-1 agreement with llama.cpp >= 95%`, { todo: 'near-tied logits on random weights (see the header)' }, () => {
          assert.ok(agree / n >= 0.95, `top-1 agreement ${agree}/${n} < 95%`);
        });
      } finally {
        await slm.dispose();
        await slmG.dispose();
        await cpp.context.dispose();
        await cpp.model.dispose();
      }
    }
  });
}
