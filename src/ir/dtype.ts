// Element types of the graph IR.
//
// Float tensors may be float32/float64 for compute; float16/bfloat16 are storage types
// (weights as published) that the graph casts up before use. `q4`/`q8` are block-quantized
// weights (block size 32, one float32 scale per block, symmetric with implicit zero point
// 8 / 128 — the layout of onnxruntime's MatMulNBits); only `linear` consumes them.

export type FloatDType = 'float32' | 'float64' | 'float16' | 'bfloat16';
export type IntDType = 'int64' | 'int32';
export type QuantDType = 'q4' | 'q8';
export type DType = FloatDType | IntDType | 'bool' | QuantDType;

export const QUANT_BLOCK_SIZE = 32;

export function isFloat(d: DType): d is FloatDType {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}
export function isInt(d: DType): d is IntDType {
  return d === 'int64' || d === 'int32';
}
export function isQuant(d: DType): d is QuantDType {
  return d === 'q4' || d === 'q8';
}

/** JS array type used to hold a tensor of each dtype (q4/q8 hold packed codes). */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16' | 'bfloat16'
      ? Uint16Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'int32'
          ? Int32Array
          : D extends 'bool'
            ? Uint8Array
            : Uint8Array;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Uint8Array;

/** Host data of a dense (non-quantized) tensor. */
export interface HostTensor {
  dtype: Exclude<DType, QuantDType>;
  shape: number[];
  data: AnyTypedArray;
}

/**
 * Block-quantized weight [N rows (out features), K cols (in features)], K a multiple of 32.
 * `codes` is MatMulNBits' B layout: uint8 [N, K/32, 32*bits/8]; for q4 the even k sits in the
 * low nibble. Value = (code - zeroPoint) * scale, zeroPoint 8 (q4) or 128 (q8).
 * `scales` is float32 [N * K/32].
 */
export interface QuantizedWeight {
  dtype: QuantDType;
  shape: [number, number];
  codes: Uint8Array;
  scales: Float32Array;
}

export function bytesPerElement(d: Exclude<DType, QuantDType>): number {
  switch (d) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'bool':
      return 1;
  }
}
