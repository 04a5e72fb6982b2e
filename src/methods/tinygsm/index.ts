// TinyGSM (Liu et al., 2023): Python-solution math data, sandboxed execution, a verifier and
// best-of-N selection. docs/methods/tinygsm.md.
export * from './program.ts';
export * from './world.ts';
export * from './execute.ts';
export * from './verifier.ts';
export * from './verifier-train.ts';
export * from './verifier-score.ts';
export * from './select.ts';
export * from './sampler.ts';
export * from './pipeline.ts';
