// Finite-difference gradient checks for autodiff rules, run on the float64 interpreter.
//
// Numeric gradients use the 4-point central difference
//   f'(x) ≈ (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h,   h = 1e-4,
// whose truncation error is O(h^4) (~1e-16 here) and rounding error ~1e-12 · |loss|: about
// 1000x more accurate than the 2-point difference at h = 1e-6. Inputs of ops with kinks
// (relu, abs, maximum, ...) are kept further than 2h from them.
//
// Error metrics, both reported; the tests assert the element-wise one:
//   element-wise: max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|)
//   norm-wise:    ||a - n||_2 / max(1e-8, ||a||_2 + ||n||_2)
// Set GRADCHECK_DEBUG=1 to print every element over the tolerance.
import type { Graph, HostTensor, Tensor } from '../../src/ir/index.ts';
import * as ir from '../../src/ir/index.ts';
import { backward } from '../../src/autodiff/index.ts';
import { evaluate, randomUniform, toNumbers } from '../../src/interp/index.ts';

export const H = 1e-4;
export const TOLERANCE = 1e-6;

export interface CheckResult {
  name: string;
  elements: number;
  elementRel: number;
  normRel: number;
}

export interface GradCase {
  name: string;
  /** Builds the forward graph; wrt must be float64 inputs or params fed below. */
  build(g: Graph): { loss: Tensor; wrt: Tensor[] };
  feeds: Record<string, HostTensor>;
  params?: Record<string, HostTensor>;
}

let projections = 0;
/** loss = Σ y · r with a fixed random r, so the upstream gradient is not uniform. */
export function project(y: Tensor, seed = 1000 + projections++): Tensor {
  const shape = y.shape as number[];
  const r = y.graph.constant(randomUniform(seed, shape, 0.5, 1.5));
  return ir.reduceSum(ir.mul(y, r));
}

function copyFloat(t: HostTensor): HostTensor {
  return { dtype: 'float64', shape: [...t.shape], data: Float64Array.from(t.data as Float64Array) };
}

export async function gradCheck(c: GradCase): Promise<CheckResult> {
  const g = new ir.Graph(c.name);
  const { loss, wrt } = c.build(g);
  const grads = backward(loss, wrt);
  const analytic = await evaluate(g, c.feeds, { params: c.params, outputs: grads });
  let elementRel = 0;
  let num2 = 0;
  let an2 = 0;
  let diff2 = 0;
  let elements = 0;
  for (let w = 0; w < wrt.length; w++) {
    const t = wrt[w]!;
    const isParam = t.kind === 'param';
    const base = isParam ? c.params![t.name!]! : c.feeds[t.name!]!;
    const a = toNumbers(analytic[grads[w]!.name ?? `%${grads[w]!.id}`]!);
    const lossAt = async (i: number, delta: number): Promise<number> => {
      const pert = copyFloat(base);
      (pert.data as Float64Array)[i]! += delta;
      const feeds = isParam ? c.feeds : { ...c.feeds, [t.name!]: pert };
      const params = isParam ? { ...c.params, [t.name!]: pert } : c.params;
      const r = await evaluate(g, feeds, { params, outputs: [loss] });
      return toNumbers(Object.values(r)[0]!)[0]!;
    };
    for (let i = 0; i < a.length; i++) {
      // Differences first: exactly 0 when the loss does not move (no spurious rounding residue).
      const d1 = (await lossAt(i, H)) - (await lossAt(i, -H));
      const d2 = (await lossAt(i, 2 * H)) - (await lossAt(i, -2 * H));
      const n = (8 * d1 - d2) / (12 * H);
      const ai = a[i]!;
      const rel = Math.abs(ai - n) / Math.max(1e-8, Math.abs(ai) + Math.abs(n));
      if (process.env.GRADCHECK_DEBUG && rel > TOLERANCE) console.log(`${c.name}: ${t} [${i}] analytic ${ai} numeric ${n}`);
      elementRel = Math.max(elementRel, rel);
      num2 += n * n;
      an2 += ai * ai;
      diff2 += (ai - n) ** 2;
      elements++;
    }
  }
  const normRel = Math.sqrt(diff2) / Math.max(1e-8, Math.sqrt(an2) + Math.sqrt(num2));
  return { name: c.name, elements, elementRel, normRel };
}

export function formatTable(rows: CheckResult[]): string {
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const lines = [`${'rule'.padEnd(w)}  elems  max elem rel err  norm rel err`];
  for (const r of rows) lines.push(`${r.name.padEnd(w)}  ${String(r.elements).padStart(5)}  ${r.elementRel.toExponential(2).padStart(16)}  ${r.normRel.toExponential(2).padStart(12)}`);
  return lines.join('\n');
}
