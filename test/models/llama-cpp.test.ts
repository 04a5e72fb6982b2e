// Cross-check against llama.cpp (node-llama-cpp 3.21.1, CPU): the same random-weight Llama- and
// Phi-2-shaped checkpoints, written by slmkit's writers as a Hugging Face folder (run by slmkit)
// and as GGUF (run by llama.cpp), must give the same logits and greedy tokens (issue 4).
//
// llama.cpp's API gives probabilities, not logits: log p = logit - logsumexp, so logits are
// compared up to the per-row constant (centred log-probabilities). llama.cpp runs with a
// float32 KV cache and without flash attention: its defaults (F16 KV, FA on CPU) round K/V to
// half precision, ~1e-3 differences that are llama.cpp's, not slmkit's.
//
// Weights: random, std 0.05 on every matrix (trained small models sit at 0.02-0.05), 4 layers,
// hidden 128, GQA 4/2 for Llama; biases and norm weights random too (not 0 and 1), so that a
// swapped or dropped bias/norm tensor in either writer or loader changes the logits.
//
// Phi-2, float32: ggml-cpu computes GELU through a float16 lookup table (GGML_GELU_FP16, a
// compile-time switch of the prebuilt binaries; see ggml-gelu.ts). That rounding alone moves
// the logits by ~1e-3: slmkit's own graph with exact vs ggml's GELU differs by 9.4e-4 over 96
// positions, and slmkit vs llama.cpp measured 1.19e-3 (old fixture with zero biases), 9.2e-4
// here, 0.94-1.07e-3 over other seeds. So the 1e-3 bound is asserted between llama.cpp
// and slmkit's own Phi graph with only its GELU swapped for ggml's (3.3e-4 here; 2.5-7.0e-4
// over other seeds). The rest is the table's steps: a last-bit float32 difference can put a
// GELU input on the other side of a float16 rounding boundary. slmkit's graph with the table
// in float32 (onnxruntime) vs float64 (interpreter) differs by up to 4.6e-4 too, against
// 1.5e-6 with the exact GELU.
// The raw difference stays a todo: it straddles 1e-3 and is llama.cpp's rounding, not slmkit's.
//
// Quantized: both engines run the *same* GGUF (Q8_0 / Q4_0), checked here to give slmkit
// bit-identical weights. Each engine then rounds activations its own way (llama.cpp: Q8_0
// blocks with float16 scales; onnxruntime MatMulNBits accuracy level 4: int8 blocks with
// float32 scales), which moves logits by ~0.04. Random weights give near-tied logits (~10% of
// positions have a top-1/top-2 gap below 0.02), so top-1 agreement measures tie-breaking on
// those: llama.cpp disagrees with itself on 1-3.5% of positions just by switching its KV cache
// between F32 and F16, and here every slmkit/llama.cpp disagreement is at a gap below 0.025. Over
// 240 teacher-forced positions, seeds 13-15 (this fixture), slmkit vs llama.cpp agreed on
// 230-239 (95.8-99.6%) at accuracy level 4, 231-237 at level 0; llama.cpp F16 vs F32 KV on
// 232-238. 95% of 240 is 228: the bound holds, but with a few positions to spare, as the
// issue's metric allows no more on random weights. Larger or smaller weight scales do not
// make random models decisive: at std 0.15 llama.cpp's own Q4_0 agrees with its F32 on 16/96
// positions (chaotic), at 0.02 the logits are flatter still. The HF-folder route (slmkit
// quantizing the float weights itself: float32 token embeddings and float32 block scales,
// where the GGUF has Q4_0 embeddings and float16 scales) is a different quantized model: its
// agreement is reported, not asserted (q4: ~205/240 with llama.cpp, and about as low with
// slmkit itself on the GGUF).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tinyHfConfig } from './fixture-model.ts';
import { writeRandomModel } from './new-archs.ts';
import { ggmlGeluAdapter } from './ggml-gelu.ts';
import { argmax, logProbDiff, margin, openLlamaCpp, requantizationChanges, skipReason, withNext, type Probs } from './llama-cpp-helpers.ts';
import { loadCausalLM, openModelWeights } from '../../src/models/load.ts';
import type { GgufWeightType } from '../../src/models/save.ts';
import { decoderGraph } from '../../src/models/runners.ts';
import { compile } from '../../src/runtime/session.ts';

const WEIGHT_STD = 0.05;
const SHAPES = {
  llama: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 },
  phi: { hidden_size: 128, intermediate_size: 256, num_hidden_layers: 4, num_attention_heads: 4 },
};
const tempDirs: string[] = [];
after(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A random-weight model as an HF folder, plus its GGUF in any weight type. */
async function writeModel(kind: 'llama' | 'phi', seed: number) {
  const m = await writeRandomModel({ ...tinyHfConfig(kind), ...SHAPES[kind] }, seed, WEIGHT_STD, `llamacpp-${kind}`);
  tempDirs.push(m.dir);
  return m;
}

const PROMPT = [5, 80, 3, 17, 200, 40, 11, 7];
const STEPS = 32;

/**
 * Logits of every position of `ids` from slmkit's graph for the model in `folder` with every
 * GELU replaced by ggml's float16-table GELU (no KV cache: one teacher-forced pass).
 */
async function logitsWithGgmlGelu(folder: string, ids: number[]): Promise<Float32Array[]> {
  const w = await openModelWeights(folder);
  const graph = decoderGraph(w.arch, w.config, w.store, { dtype: 'float32', linear: 'float32', linearAdapter: ggmlGeluAdapter }, { cache: false, lastLogitsOnly: false });
  const cg = await compile(graph, { threads: 1, cacheDir: false });
  try {
    const out = await cg.run({
      input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
      position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, j) => BigInt(j)) },
    });
    const logits = out.logits!.data as Float32Array;
    const v = logits.length / ids.length;
    return ids.map((_, i) => logits.subarray(i * v, (i + 1) * v));
  } finally {
    await cg.dispose();
    await w.close();
  }
}

for (const kind of ['llama', 'phi'] as const) {
  test(`${kind}: float32 logits and 32 greedy tokens equal llama.cpp's (F32 GGUF)`, { skip: skipReason, timeout: 60_000 }, async (t) => {
    const files = await writeModel(kind, 11);
    const cpp = await openLlamaCpp(await files.gguf('F32'));
    const slm = await loadCausalLM(files.folder, { dtype: 'f32', threads: 1, cacheDir: false });
    const s = slm.createSession();
    try {
      // Prompt: every position's next-token distribution.
      const out = await cpp.sequence.controlledEvaluate(PROMPT.map(withNext));
      const cppProbs = out.map((o) => o!.next.probabilities! as Probs);
      const [rows] = await s.forward([PROMPT], { allLogits: true });
      let worst = 0;
      for (let i = 0; i < PROMPT.length; i++) worst = Math.max(worst, logProbDiff(cppProbs[i]!, rows![i]!));
      // Greedy decode, each engine feeding back its own choice.
      const cppTokens: number[] = [out.at(-1)!.next.token! as number];
      const slmTokens: number[] = [argmax(rows!.at(-1)!)];
      for (let step = 1; step < STEPS; step++) {
        const [r] = await cpp.sequence.controlledEvaluate([withNext(cppTokens.at(-1)!)]);
        const [[logits]] = (await s.forward([[slmTokens.at(-1)!]])) as [[Float32Array]];
        cppProbs.push(r!.next.probabilities! as Probs);
        worst = Math.max(worst, logProbDiff(cppProbs.at(-1)!, logits));
        cppTokens.push(r!.next.token! as number);
        slmTokens.push(argmax(logits));
      }
      t.diagnostic(`${kind}: max |Δ centred logit| over ${PROMPT.length} prompt + ${STEPS - 1} decode positions = ${worst.toExponential(2)}`);
      t.diagnostic(`${kind}: greedy ${slmTokens.join(' ')}`);
      assert.deepEqual(slmTokens, cppTokens, 'greedy tokens differ');
      // The comparison is meaningful only if the model does not emit one token forever.
      assert.ok(new Set(slmTokens).size > 1, 'degenerate greedy sequence');
      if (kind === 'phi') {
        // The same positions, teacher-forced, through slmkit's graph with ggml's GELU.
        const fed = [...PROMPT, ...cppTokens.slice(0, STEPS - 1)];
        const matched = await logitsWithGgmlGelu(files.folder, fed);
        const worstMatched = Math.max(...matched.map((r, i) => logProbDiff(cppProbs[i]!, r)));
        t.diagnostic(`phi: with ggml's float16 GELU table in slmkit's graph, max |Δ centred logit| = ${worstMatched.toExponential(2)}`);
        await t.test("max |Δ centred logit| <= 1e-3 (slmkit's graph with llama.cpp's float16 GELU)", () => {
          assert.ok(worstMatched <= 1e-3, `logits differ from llama.cpp's by ${worstMatched}`);
        });
      }
      const todo = kind === 'phi' ? "llama.cpp's CPU GELU reads a float16 table (GGML_GELU_FP16): ~1e-3 of the difference is that rounding (see above)" : undefined;
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

const QUANT: ['q8' | 'q4', GgufWeightType][] = [
  ['q8', 'Q8_0'],
  ['q4', 'Q4_0'],
];
const QUANT_POSITIONS = 240;

for (const kind of ['llama', 'phi'] as const) {
  test(`${kind}: slmkit q8/q4 top-1 agrees with llama.cpp Q8_0/Q4_0 on the same GGUF (teacher-forced)`, { skip: skipReason, timeout: 60_000 }, async (t) => {
    const files = await writeModel(kind, 13);
    // A fixed pseudo-random token stream, fed identically to both engines.
    const ids = Array.from({ length: QUANT_POSITIONS }, (_, i) => (i * 97 + 31) % 320);
    const n = ids.length;
    const ref = await loadCausalLM(files.folder, { dtype: 'f32', threads: 1, cacheDir: false });
    const [refRows] = await ref.createSession().forward([ids], { allLogits: true });
    await ref.dispose();
    for (const [dtype, ggufType] of QUANT) {
      const gguf = await files.gguf(ggufType);
      const changes = await requantizationChanges(gguf, dtype);
      t.diagnostic(`${kind} ${ggufType}: ${changes.tensors} quantized tensors, ${changes.differing}/${changes.total} weights changed by slmkit's load`);
      assert.ok(changes.tensors > 0, 'no quantized weights found');
      assert.equal(changes.differing, 0, `slmkit's ${dtype} weights differ from the GGUF's ${ggufType} values`);

      const cpp = await openLlamaCpp(gguf);
      const slmG = await loadCausalLM(gguf, { dtype, threads: 1, cacheDir: false });
      const slmHf = await loadCausalLM(files.folder, { dtype, threads: 1, cacheDir: false });
      try {
        const out = await cpp.sequence.controlledEvaluate(ids.map(withNext));
        const [rowsG] = await slmG.createSession().forward([ids], { allLogits: true });
        const [rowsHf] = await slmHf.createSession().forward([ids], { allLogits: true });
        let agree = 0;
        let agreeHf = 0;
        let hfVsG = 0;
        let cppRef = 0;
        let slmHfRef = 0;
        let worst = 0;
        const tieMargins: number[] = [];
        for (let i = 0; i < n; i++) {
          const c = out[i]!.next.token as number;
          const probs = out[i]!.next.probabilities! as Probs;
          const f = argmax(refRows![i]!);
          const g = argmax(rowsG![i]!);
          const h = argmax(rowsHf![i]!);
          if (c === g) agree++;
          else tieMargins.push(margin(probs));
          if (c === h) agreeHf++;
          if (h === g) hfVsG++;
          if (c === f) cppRef++;
          if (h === f) slmHfRef++;
          worst = Math.max(worst, logProbDiff(probs, rowsG![i]!));
        }
        const maxTie = Math.max(0, ...tieMargins);
        const below = out.filter((o) => margin(o!.next.probabilities! as Probs) <= maxTie).length;
        t.diagnostic(
          `${kind} ${dtype} vs llama.cpp ${ggufType}, same GGUF: top-1 agreement ${agree}/${n}, max |Δ centred logit| ${worst.toFixed(3)}; ` +
            `llama.cpp's top-1/top-2 gap where they differ: ${tieMargins.map((m) => m.toFixed(4)).join(' ') || '-'} (${below}/${n} positions have a gap <= ${maxTie.toFixed(4)})`,
        );
        t.diagnostic(
          `${kind} ${dtype} from the HF folder (slmkit's own quantization): vs llama.cpp ${agreeHf}/${n}, vs slmkit on the GGUF ${hfVsG}/${n}; ` +
            `agreement with slmkit float32: slmkit ${dtype} (HF) ${slmHfRef}/${n}, llama.cpp ${ggufType} ${cppRef}/${n}`,
        );
        // slmkit's own quantizer: layout or scale bugs drop agreement with float32 to chance
        // (~1/320); rounding noise costs both quantizers alike (3 positions of slack).
        assert.ok(slmHfRef >= cppRef - 3, `slmkit ${dtype} agrees with float32 on ${slmHfRef}/${n}, llama.cpp ${ggufType} on ${cppRef}/${n}`);
        await t.test(`${dtype}: top-1 agreement with llama.cpp >= 95% (same GGUF weights)`, () => {
          assert.ok(agree / n >= 0.95, `top-1 agreement ${agree}/${n} < 95%`);
        });
      } finally {
        await slmG.dispose();
        await slmHf.dispose();
        await cpp.context.dispose();
        await cpp.model.dispose();
      }
    }
  });
}
