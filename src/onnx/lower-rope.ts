// Lowering of rope: com.microsoft RotaryEmbedding (float32) or standard ops (float64, or
// fused ops disabled). Both read cos/sin tables [maxPositions, rotaryDim/2] computed here in
// float64, so the angles are exact whatever the compute dtype; the inverse rotation just
// negates the sin table (cos(-a) = cos a, sin(-a) = -sin a). Frequency factors (Llama 3,
// longrope) and longrope's attention factor are folded into the tables.

import type { Tensor } from '../ir/graph.ts';
import { I, computeDType, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';
import { asInt64 } from './lower-layout.ts';
import { ropeInvFreq } from '../ir/rope-freq.ts';

interface RopeScaling {
  freqFactors: readonly number[] | null;
  attnFactor: number;
}

function ropeTables(ctx: LoweringContext, theta: number, rd: number, inverse: boolean, dtype: 'float32' | 'float64', sc: RopeScaling): { cos: string; sin: string } {
  const maxPos = ctx.opts.maxPositions;
  const half = rd / 2;
  const invFreq = ropeInvFreq(theta, rd, sc.freqFactors);
  const m = sc.attnFactor;
  const make = (which: 'cos' | 'sin') => () => {
    const out = dtype === 'float32' ? new Float32Array(maxPos * half) : new Float64Array(maxPos * half);
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < maxPos; p++) {
        const a = p * invFreq[j]!;
        out[p * half + j] = m * (which === 'cos' ? Math.cos(a) : inverse ? -Math.sin(a) : Math.sin(a));
      }
    }
    return new Uint8Array(out.buffer);
  };
  // The scaling is part of the tables' identity (the built-model cache key).
  const scaling = sc.freqFactors || m !== 1 ? `|factors=${sc.freqFactors?.join(',') ?? ''}|mscale=${m}` : '';
  const id = `rope|theta=${theta}|rd=${rd}|max=${maxPos}|${dtype}${scaling}`;
  return {
    cos: ctx.generated('rope_cos', dtype, [maxPos, half], `${id}|cos`, make('cos')),
    sin: ctx.generated(inverse ? 'rope_sin_inv' : 'rope_sin', dtype, [maxPos, half], `${id}|${inverse ? '-sin' : 'sin'}`, make('sin')),
  };
}

const rope: LowerFn = (ctx, node) => {
  const [xT, posT] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  const a = node.attrs;
  const h = a.numHeads as number;
  const hd = a.headDim as number;
  const rd = (a.rotaryDim as number) ?? hd;
  const theta = a.theta as number;
  const interleaved = a.interleaved === true;
  const inverse = a.inverse === true;
  const dt = computeDType(xT.dtype) as 'float32' | 'float64';
  const x = ctx.value(xT);
  const pos = asInt64(ctx, posT);
  const scaling = { freqFactors: (a.freqFactors as number[] | null | undefined) ?? null, attnFactor: (a.attnFactor as number | undefined) ?? 1 };
  const { cos, sin } = ropeTables(ctx, theta, rd, inverse, dt, scaling);

  if (ctx.opts.fused && dt === 'float32') {
    const attrs = { interleaved: I(interleaved ? 1 : 0), num_heads: I(h), rotary_embedding_dim: I(rd) };
    ctx.bind(out, ctx.op('RotaryEmbedding', [x, pos, cos, sin], attrs, { domain: 'com.microsoft', output: ctx.out(out) }));
    return;
  }

  // Standard ops on x viewed as [B, S, H, hd].
  const x4 = ctx.op('Reshape', [x, ctx.i64([0, 0, h, hd])]);
  const rot = rd === hd ? x4 : ctx.op('Slice', [x4, ctx.i64([0]), ctx.i64([rd]), ctx.i64([3])]);
  const c = ctx.op('Gather', [cos, pos], { axis: I(0) }); // [B, S, rd/2]
  const s = ctx.op('Gather', [sin, pos], { axis: I(0) });
  let rotated: string;
  if (!interleaved) {
    // HF rotate-half: pairs (i, i + rd/2).
    const c4 = ctx.op('Unsqueeze', [c, ctx.i64([2])]); // [B, S, 1, rd/2]
    const s4 = ctx.op('Unsqueeze', [s, ctx.i64([2])]);
    const x1 = ctx.op('Slice', [rot, ctx.i64([0]), ctx.i64([rd / 2]), ctx.i64([3])]);
    const x2 = ctx.op('Slice', [rot, ctx.i64([rd / 2]), ctx.i64([rd]), ctx.i64([3])]);
    const o1 = ctx.op('Sub', [ctx.op('Mul', [x1, c4]), ctx.op('Mul', [x2, s4])]);
    const o2 = ctx.op('Add', [ctx.op('Mul', [x2, c4]), ctx.op('Mul', [x1, s4])]);
    rotated = ctx.op('Concat', [o1, o2], { axis: I(3) });
  } else {
    // Interleaved pairs (2i, 2i+1): view as [B, S, H, rd/2, 2].
    const c5 = ctx.op('Unsqueeze', [c, ctx.i64([2, 4])]); // [B, S, 1, rd/2, 1]
    const s5 = ctx.op('Unsqueeze', [s, ctx.i64([2, 4])]);
    const pairs = ctx.op('Reshape', [rot, ctx.i64([0, 0, 0, rd / 2, 2])]);
    const x1 = ctx.op('Slice', [pairs, ctx.i64([0]), ctx.i64([1]), ctx.i64([4])]);
    const x2 = ctx.op('Slice', [pairs, ctx.i64([1]), ctx.i64([2]), ctx.i64([4])]);
    const o1 = ctx.op('Sub', [ctx.op('Mul', [x1, c5]), ctx.op('Mul', [x2, s5])]);
    const o2 = ctx.op('Add', [ctx.op('Mul', [x2, c5]), ctx.op('Mul', [x1, s5])]);
    rotated = ctx.op('Reshape', [ctx.op('Concat', [o1, o2], { axis: I(4) }), ctx.i64([0, 0, 0, rd])]);
  }
  if (rd < hd) {
    const pass = ctx.op('Slice', [x4, ctx.i64([rd]), ctx.i64([hd]), ctx.i64([3])]);
    rotated = ctx.op('Concat', [rotated, pass], { axis: I(3) });
  }
  ctx.bind(out, ctx.op('Reshape', [rotated, ctx.i64([0, 0, h * hd])], {}, { output: ctx.out(out) }));
};

export const ROPE: Record<string, LowerFn> = { rope };
