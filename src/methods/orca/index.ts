// Orca 2 data generation (docs/methods/orca2.md).
export * from './strategies.ts';
export * from './chatml.ts';
export * from './erasure.ts';
export * from './generate.ts';
