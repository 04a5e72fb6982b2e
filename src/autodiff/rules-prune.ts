// Gradient rules of the token-pruning ops (src/ir/ops-prune.ts). top_k's indices are integers:
// nothing flows back through the selection (as in PoWER-BERT / LAT, where the kept set is a
// hard choice). gather_rows scatters its gradient back to the kept rows; gather_rows_grad is
// linear in its grad, so its own gradient is gather_rows again.
import type { Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import type { GradRule } from './util.ts';

export const PRUNE_RULES: Record<string, GradRule> = {
  top_k: () => [],
  gather_rows: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const [data, idx] = node.inputs as [Tensor, Tensor];
    return [b.gatherRowsGrad(g, idx, data)];
  },
  gather_rows_grad: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    return [b.gatherRows(g, node.inputs[1]!)];
  },
};
