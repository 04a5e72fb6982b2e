// llama.cpp's CPU GELU, as an IR expression, for comparing Phi-2 logits with llama.cpp.
//
// ggml-cpu is built with GGML_GELU_FP16 (ggml/src/ggml-cpu/vec.h): for float32 input,
// ggml_vec_gelu_f32 returns 0 for x <= -10, x for x >= 10, and otherwise looks x up in a
// 65536-entry float16 table: y = f16(gelu_tanh(f16(x))) (the table, built in ggml-cpu.c,
// stores FP32_TO_FP16(ggml_gelu_f32(FP16_TO_FP32(i))) for every half value i). Both roundings
// are half precision: ~2.4e-4 relative each, which moves float32 logits by ~1e-3.
//
// `ggmlGeluAdapter` is a LinearAdapter (the hook LoRA uses) that rebuilds every Linear fed
// by a GELU so that it reads ggml's GELU of the same pre-activation instead: the rest of the
// model is slmkit's own graph, unchanged. The replaced GELU and Linear become dead nodes,
// which lowering and the interpreter drop.
import { cast, gelu, greater, less, linear, mul, sub, where } from '../../src/ir/builder.ts';
import type { Tensor } from '../../src/ir/graph.ts';
import type { LinearAdapter } from '../../src/nn/var-builder.ts';

/** Rounds to float16 precision: through a float16 cast on onnxruntime (float32 graphs). */
function roundToHalf(x: Tensor): Tensor {
  if (x.dtype === 'float32') return cast(cast(x, 'float16'), 'float32');
  // float64 graphs (the interpreter keeps casts exact): a Veltkamp split keeps the top
  // 53 - 42 = 11 significant bits, float16's precision in its normal range.
  const c = mul(x, 2 ** 42 + 1);
  return sub(c, sub(c, x));
}

export function ggmlGelu(x: Tensor): Tensor {
  const table = roundToHalf(gelu(roundToHalf(x), 'tanh'));
  return where(less(x, -10), 0, where(greater(x, 10), x, table));
}

export const ggmlGeluAdapter: LinearAdapter = (_vb, x, y) => {
  const act = x.producer;
  if (act?.op !== 'gelu' || act.attrs.approximate !== 'tanh') return y;
  const lin = y.producer!;
  if (lin.op !== 'linear') throw new Error(`ggmlGeluAdapter: expected a linear node, got ${lin.op}`);
  const [, weight, bias] = lin.inputs;
  return linear(ggmlGelu(act.inputs[0]!), weight!, bias ?? null);
};
