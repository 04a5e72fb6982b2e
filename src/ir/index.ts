// Public surface of the graph IR.
export * from './dtype.ts';
export * from './dims.ts';
export { Graph, Tensor, Node, type ParamSource } from './graph.ts';
export * from './builder.ts';
export { OPS, OP_NAMES, inferOp, type Attrs, type AttrValue } from './ops.ts';
