// Reference interpreter (float64 oracle) for the graph IR.
export { evaluate, type EvaluateOptions } from './evaluate.ts';
export { hostTensor, toNumbers, randomUniform, randomNormal, randomInts, type RandomFloatDType } from './random.ts';
