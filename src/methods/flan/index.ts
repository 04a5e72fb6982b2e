// FLAN instruction mixtures (docs/methods/flan.md).
export * from './templates.ts';
export * from './datasets.ts';
export * from './formats.ts';
export * from './mixture.ts';
