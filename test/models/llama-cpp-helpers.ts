// node-llama-cpp plumbing shared by the llama.cpp cross-checks (llama-cpp.test.ts,
// llama-cpp-new-archs.test.ts): loading llama.cpp once, opening a GGUF with a float32 KV
// cache and no flash attention, comparing its next-token distributions with slmkit's logits.
import assert from 'node:assert/strict';
import { loadCausalLM, openModelWeights } from '../../src/models/load.ts';
import { decoderGraph } from '../../src/models/runners.ts';
import { dequantizeBlockwise } from '../../src/quant/blockwise.ts';
import type { QuantizedWeight } from '../../src/ir/dtype.ts';

type NodeLlamaCpp = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;

export let llamaCpp: { mod: NodeLlamaCpp; llama: Llama } | undefined;
export let skipReason: string | false = false;
try {
  const mod = await import('node-llama-cpp');
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, progressLogs: false });
  llamaCpp = { mod, llama };
} catch (e) {
  skipReason = `node-llama-cpp cannot load on this machine: ${(e as Error).message.split('\n')[0]}`;
}

export function logSoftmax(r: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let i = 0; i < r.length; i++) mx = Math.max(mx, r[i]!);
  let s = 0;
  for (let i = 0; i < r.length; i++) s += Math.exp(r[i]! - mx);
  const lse = mx + Math.log(s);
  return Float64Array.from(r, (x) => x - lse);
}

export function argmax(r: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < r.length; i++) if (r[i]! > r[best]!) best = i;
  return best;
}

export type Probs = Map<number, number>;

/** Max |log p_llama.cpp - log p_slmkit| over tokens whose probability float32 represents well. */
export function logProbDiff(probs: Probs, logits: ArrayLike<number>): number {
  const lp = logSoftmax(logits);
  let worst = 0;
  for (const [tok, p] of probs) if (p > 1e-30) worst = Math.max(worst, Math.abs(Math.log(p) - lp[tok]!));
  return worst;
}

/** llama.cpp's top-1 minus top-2 log-probability (= logit gap). */
export function margin(probs: Probs): number {
  const lp = [...probs.values()].map(Math.log).sort((a, b) => b - a);
  return lp[0]! - lp[1]!;
}

export async function openLlamaCpp(gguf: string) {
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
export const withNext = (tok: number): EvalItem => [tok as Token, next];

/**
 * Whether slmkit runs a GGUF's quantized weights unchanged: the loader dequantizes each
 * Q8_0/Q4_0 tensor and requantizes it into MatMulNBits blocks; those must dequantize to the
 * file's values bit for bit. Returns the number of differing elements and the total.
 */
export async function requantizationChanges(gguf: string, dtype: 'q8' | 'q4'): Promise<{ differing: number; total: number; tensors: number }> {
  const w = await openModelWeights(gguf);
  try {
    const graph = decoderGraph(w.arch, w.config, w.store, { dtype: 'float32', linear: dtype }, { cache: false, lastLogitsOnly: false });
    let differing = 0;
    let total = 0;
    let tensors = 0;
    for (const p of graph.params) {
      if (p.dtype !== dtype) continue;
      const q = (typeof p.source === 'function' ? await p.source() : p.source) as QuantizedWeight;
      const back = dequantizeBlockwise(q);
      const file = await w.store.loadF32(p.name!.slice(0, p.name!.lastIndexOf('#')));
      assert.equal(back.length, file.length, p.name);
      for (let i = 0; i < file.length; i++) if (back[i] !== file[i]) differing++;
      total += file.length;
      tensors++;
    }
    return { differing, total, tensors };
  } finally {
    await w.close();
  }
}


export const PROMPT = [5, 80, 3, 17, 200, 40, 11, 7];

/**
 * llama.cpp on `gguf` and slmkit on `folder` (float32, context 256 as llama.cpp's): every
 * prompt position's distribution, then `steps` greedy tokens, each engine feeding back its own.
 * Returns both token lists and the worst |Δ centred logit| over all positions.
 */
export async function greedyAgainstLlamaCpp(folder: string, gguf: string, steps: number): Promise<{ slmTokens: number[]; cppTokens: number[]; worst: number }> {
  const cpp = await openLlamaCpp(gguf);
  const slm = await loadCausalLM(folder, { dtype: 'f32', threads: 1, cacheDir: false, context: 256 });
  const s = slm.createSession();
  try {
    const out = await cpp.sequence.controlledEvaluate(PROMPT.map(withNext));
    const [rows] = await s.forward([PROMPT], { allLogits: true });
    let worst = 0;
    for (let i = 0; i < PROMPT.length; i++) worst = Math.max(worst, logProbDiff(out[i]!.next.probabilities! as Probs, rows![i]!));
    const cppTokens: number[] = [out.at(-1)!.next.token! as number];
    const slmTokens: number[] = [argmax(rows!.at(-1)!)];
    for (let step = 1; step < steps; step++) {
      const [r] = await cpp.sequence.controlledEvaluate([withNext(cppTokens.at(-1)!)]);
      const [[logits]] = (await s.forward([[slmTokens.at(-1)!]])) as [[Float32Array]];
      worst = Math.max(worst, logProbDiff(r!.next.probabilities! as Probs, logits));
      cppTokens.push(r!.next.token! as number);
      slmTokens.push(argmax(logits));
    }
    return { slmTokens, cppTokens, worst };
  } finally {
    await s.dispose();
    await slm.dispose();
    await cpp.context.dispose();
    await cpp.model.dispose();
  }
}

/**
 * Teacher-forced top-1 agreement of slmkit (`dtype`) and llama.cpp on the same quantized GGUF
 * over `ids`, plus the llama.cpp top-1/top-2 gaps where they disagree.
 */
export async function top1AgainstLlamaCpp(gguf: string, dtype: 'q8' | 'q4', ids: number[]): Promise<{ agree: number; gaps: number[] }> {
  const cpp = await openLlamaCpp(gguf);
  const slm = await loadCausalLM(gguf, { dtype, threads: 1, cacheDir: false, context: 256 });
  try {
    const out = await cpp.sequence.controlledEvaluate(ids.map(withNext));
    const [rows] = await slm.createSession().forward([ids], { allLogits: true });
    let agree = 0;
    const gaps: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (out[i]!.next.token === argmax(rows![i]!)) agree++;
      else gaps.push(margin(out[i]!.next.probabilities! as Probs));
    }
    return { agree, gaps };
  } finally {
    await slm.dispose();
    await cpp.context.dispose();
    await cpp.model.dispose();
  }
}
