// Reductions, normalizations and the transformer blocks (rope, attention, cross_entropy).

import { ropeInvFreq } from '../ir/rope-freq.ts';
import { SlmError } from '../errors.ts';
import { broadcastConcrete, broadcastTo } from './elementwise.ts';
import { makeValue, numelOf, normalizeInts, stridesOf, type Value } from './value.ts';
import { isInt } from '../ir/dtype.ts';

function normAxes(op: string, axes: number[] | null | undefined, rank: number): number[] {
  if (axes === null || axes === undefined) return [...Array(rank).keys()];
  return axes.map((a) => {
    const ax = a < 0 ? a + rank : a;
    if (ax < 0 || ax >= rank) throw new SlmError('SHAPE_MISMATCH', `${op}: axis ${a} out of range for rank ${rank}`);
    return ax;
  });
}

export function reduce(op: 'reduce_sum' | 'reduce_mean' | 'reduce_max', x: Value, axes: number[] | null | undefined, keepdims: boolean): Value {
  const ax = normAxes(op, axes, x.shape.length);
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const outShape = keepdims ? keptShape : x.shape.filter((_, i) => !ax.includes(i));
  const n = numelOf(keptShape);
  const acc = new Float64Array(n).fill(op === 'reduce_max' ? -Infinity : 0);
  const count = new Float64Array(n);
  // Walk x; map each element to its reduced slot through the kept shape's strides.
  const kStr = stridesOf(keptShape).map((s, i) => (ax.includes(i) ? 0 : s));
  const rank = x.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let slot = 0;
  for (let e = 0; e < x.data.length; e++) {
    const v = x.data[e]!;
    if (op === 'reduce_max') {
      if (v > acc[slot]! || Number.isNaN(v)) acc[slot] = v;
    } else acc[slot]! += v;
    count[slot]!++;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      slot += kStr[a]!;
      if (idx[a]! < x.shape[a]!) break;
      slot -= kStr[a]! * x.shape[a]!;
      idx[a] = 0;
    }
  }
  if (op === 'reduce_mean') for (let i = 0; i < n; i++) acc[i] = acc[i]! / count[i]!;
  const out = makeValue(x.dtype, outShape, acc);
  return isInt(x.dtype) ? normalizeInts(out) : out;
}

/** Calls f(base, stride, len) for every 1-D lane of x along `axis`. */
function lanes(shape: number[], axis: number, f: (base: number, stride: number, len: number) => void): void {
  const rank = shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) throw new SlmError('SHAPE_MISMATCH', `axis ${axis} out of range for rank ${rank}`);
  const outer = numelOf(shape.slice(0, ax));
  const len = shape[ax]!;
  const inner = numelOf(shape.slice(ax + 1));
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) f(o * len * inner + i, inner, len);
}

export function softmax(x: Value, axis: number, log: boolean): Value {
  const out = makeValue(x.dtype, [...x.shape]);
  const d = x.data;
  lanes(x.shape, axis, (base, st, len) => {
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, d[base + j * st]!);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(d[base + j * st]! - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < len; j++) {
      const v = d[base + j * st]!;
      out.data[base + j * st] = log ? v - lse : Math.exp(v - m) / s;
    }
  });
  return out;
}

export function rmsNorm(x: Value, w: Value, eps: number): Value {
  const h = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 1 || w.shape[0] !== h) throw new SlmError('SHAPE_MISMATCH', `rms_norm: weight [${w.shape}] must be [${h}]`);
  const out = makeValue(x.dtype, [...x.shape]);
  for (let r = 0; r < x.data.length / h; r++) {
    let ss = 0;
    for (let j = 0; j < h; j++) ss += x.data[r * h + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / h + eps);
    for (let j = 0; j < h; j++) out.data[r * h + j] = x.data[r * h + j]! * inv * w.data[j]!;
  }
  return out;
}

/** Population variance, as torch.nn.LayerNorm. */
export function layerNorm(x: Value, w: Value, b: Value | null, eps: number): Value {
  const h = x.shape[x.shape.length - 1]!;
  if (w.shape[0] !== h || (b && b.shape[0] !== h)) throw new SlmError('SHAPE_MISMATCH', `layer_norm: weight/bias must be [${h}]`);
  const out = makeValue(x.dtype, [...x.shape]);
  for (let r = 0; r < x.data.length / h; r++) {
    let mean = 0;
    for (let j = 0; j < h; j++) mean += x.data[r * h + j]!;
    mean /= h;
    let v = 0;
    for (let j = 0; j < h; j++) v += (x.data[r * h + j]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / h + eps);
    for (let j = 0; j < h; j++) out.data[r * h + j] = (x.data[r * h + j]! - mean) * inv * w.data[j]! + (b ? b.data[j]! : 0);
  }
  return out;
}

export interface RopeAttrs {
  numHeads: number;
  headDim: number;
  rotaryDim: number;
  theta: number;
  interleaved: boolean;
  inverse: boolean;
  freqFactors?: readonly number[] | null;
  attnFactor?: number;
}

export function rope(x: Value, pos: Value, a: RopeAttrs): Value {
  const [B, S, HD] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || HD !== a.numHeads * a.headDim) throw new SlmError('SHAPE_MISMATCH', `rope: x [${x.shape}] must be [B, S, ${a.numHeads}*${a.headDim}]`);
  if (pos.shape.length !== 2 || pos.shape[0] !== B || pos.shape[1] !== S) throw new SlmError('SHAPE_MISMATCH', `rope: positions [${pos.shape}] must be [${B}, ${S}]`);
  const half = a.rotaryDim / 2;
  const invFreq = ropeInvFreq(a.theta, a.rotaryDim, a.freqFactors);
  const m = a.attnFactor ?? 1;
  const sign = a.inverse ? -1 : 1;
  const out = makeValue(x.dtype, [...x.shape], Float64Array.from(x.data)); // dims past rotaryDim pass through
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const p = pos.data[b * S + s]!;
      for (let h = 0; h < a.numHeads; h++) {
        const base = (b * S + s) * HD + h * a.headDim;
        for (let j = 0; j < half; j++) {
          const ang = sign * p * invFreq[j]!;
          const c = m * Math.cos(ang);
          const sn = m * Math.sin(ang);
          const i1 = base + (a.interleaved ? 2 * j : j);
          const i2 = base + (a.interleaved ? 2 * j + 1 : j + half);
          const x1 = x.data[i1]!;
          const x2 = x.data[i2]!;
          out.data[i1] = x1 * c - x2 * sn;
          out.data[i2] = x2 * c + x1 * sn;
        }
      }
    }
  }
  return out;
}

export interface AttentionAttrs {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  scale: number;
  causal: boolean;
}

/** [B, T, N*D] -> [B, N, T, D] (BNSH). */
function toBnsh(x: Value, n: number, d: number): Float64Array {
  const [B, T] = x.shape as [number, number];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < n; h++) for (let j = 0; j < d; j++) {
    out[((b * n + h) * T + t) * d + j] = x.data[((b * T + t) * n + h) * d + j]!;
  }
  return out;
}

/**
 * Returns [out] or [out, presentK, presentV]. A query row whose keys are all masked
 * (only possible through a -inf bias) yields zeros rather than NaN.
 */
export function attention(q: Value, k: Value, v: Value, pastK: Value | null, pastV: Value | null, bias: Value | null, a: AttentionAttrs): Value[] {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = a;
  const [B, S] = q.shape as [number, number];
  const T = k.shape[1]!;
  if (q.shape[2] !== nh * hd || k.shape[2] !== nkv * hd || v.shape[2] !== nkv * hd || k.shape[0] !== B || v.shape[0] !== B || v.shape[1] !== T) {
    throw new SlmError('SHAPE_MISMATCH', `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit ${nh}/${nkv} heads of ${hd}`);
  }
  const P = pastK ? pastK.shape[2]! : 0;
  if (pastK && pastV) {
    for (const t of [pastK, pastV]) {
      if (t.shape[0] !== B || t.shape[1] !== nkv || t.shape[2] !== P || t.shape[3] !== hd) throw new SlmError('SHAPE_MISMATCH', `attention: past [${t.shape}] must be [${B}, ${nkv}, ${P}, ${hd}]`);
    }
  }
  const L = P + T;
  // Present caches [B, nkv, L, hd] = concat(past, new) along the sequence.
  const kNew = toBnsh(k, nkv, hd);
  const vNew = toBnsh(v, nkv, hd);
  const presK = new Float64Array(B * nkv * L * hd);
  const presV = new Float64Array(B * nkv * L * hd);
  for (let bg = 0; bg < B * nkv; bg++) {
    if (pastK && pastV) {
      presK.set(pastK.data.subarray(bg * P * hd, (bg + 1) * P * hd), bg * L * hd);
      presV.set(pastV.data.subarray(bg * P * hd, (bg + 1) * P * hd), bg * L * hd);
    }
    presK.set(kNew.subarray(bg * T * hd, (bg + 1) * T * hd), bg * L * hd + P * hd);
    presV.set(vNew.subarray(bg * T * hd, (bg + 1) * T * hd), bg * L * hd + P * hd);
  }
  let biasFull: Float64Array | null = null;
  if (bias) {
    if (bias.shape.length > 4) throw new SlmError('SHAPE_MISMATCH', `attention: bias [${bias.shape}] has rank > 4`);
    const target = [B, nh, S, L];
    const shape = broadcastConcrete('attention bias', [bias.shape, target]);
    if (shape.some((d, i) => d !== target[i])) throw new SlmError('SHAPE_MISMATCH', `attention: bias [${bias.shape}] must broadcast to [${target}]`);
    biasFull = broadcastTo(bias, target).data;
  }
  const group = nh / nkv;
  const offset = L - S; // end-aligned: query i sits at absolute position offset + i
  const out = makeValue(q.dtype, [B, S, nh * hd]);
  const scores = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const g = Math.floor(h / group);
      const kvBase = (b * nkv + g) * L * hd;
      for (let i = 0; i < S; i++) {
        const qBase = ((b * S + i) * nh + h) * hd;
        let m = -Infinity;
        for (let j = 0; j < L; j++) {
          if (a.causal && j > offset + i) {
            scores[j] = -Infinity;
            continue;
          }
          let s = 0;
          for (let e = 0; e < hd; e++) s += q.data[qBase + e]! * presK[kvBase + j * hd + e]!;
          s *= a.scale;
          if (biasFull) s += biasFull[((b * nh + h) * S + i) * L + j]!;
          scores[j] = s;
          if (s > m) m = s;
        }
        if (m === -Infinity) continue; // fully masked row: zeros
        let den = 0;
        for (let j = 0; j < L; j++) {
          scores[j] = Math.exp(scores[j]! - m);
          den += scores[j]!;
        }
        for (let e = 0; e < hd; e++) {
          let acc = 0;
          for (let j = 0; j < L; j++) acc += scores[j]! * presV[kvBase + j * hd + e]!;
          out.data[qBase + e] = acc / den;
        }
      }
    }
  }
  if (!pastK) return [out];
  return [out, makeValue(q.dtype, [B, nkv, L, hd], presK), makeValue(q.dtype, [B, nkv, L, hd], presV)];
}

/**
 * Mean over non-ignored rows of logsumexp(logits) - logits[target]. When every target is
 * ignored the loss is defined as 0 (not NaN), so an all-padding batch contributes nothing.
 */
export function crossEntropy(logits: Value, targets: Value, ignoreIndex: number): Value {
  const [N, V] = logits.shape as [number, number];
  if (logits.shape.length !== 2 || targets.shape.length !== 1 || targets.shape[0] !== N) throw new SlmError('SHAPE_MISMATCH', `cross_entropy: logits [${logits.shape}] and targets [${targets.shape}]`);
  let total = 0;
  let count = 0;
  for (let r = 0; r < N; r++) {
    const t = targets.data[r]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new SlmError('INVALID_ARGUMENT', `cross_entropy: target ${t} at row ${r} is outside [0, ${V})`);
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits.data[r * V + j]!);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits.data[r * V + j]! - m);
    total += m + Math.log(s) - logits.data[r * V + t]!;
    count++;
  }
  return makeValue(logits.dtype, [], new Float64Array([count ? total / count : 0]));
}
