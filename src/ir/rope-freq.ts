// Rotary frequencies, shared by the interpreter and the ONNX lowering so both rotate by
// exactly the same angles.

/** theta^(-2j/rotaryDim) for j < rotaryDim/2, divided by frequency j's scaling factor when given. */
export function ropeInvFreq(theta: number, rotaryDim: number, freqFactors?: readonly number[] | null): number[] {
  return Array.from({ length: rotaryDim / 2 }, (_, j) => Math.pow(theta, (-2 * j) / rotaryDim) / (freqFactors?.[j] ?? 1));
}
