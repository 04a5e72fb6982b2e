// Shared harness of the ONNX tests: build a graph, compile it for onnxruntime, run it at a
// few concrete sizes of its symbolic dims, and compare every output against the float64
// reference interpreter.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, type Tensor } from '../../src/ir/index.ts';
import type { DType, HostTensor, QuantizedWeight } from '../../src/ir/dtype.ts';
import { resolveDim, type Dim } from '../../src/ir/dims.ts';
import { evaluate, hostTensor, randomInts, randomUniform } from '../../src/interp/index.ts';
import { compile, type CompileOptions } from '../../src/runtime/session.ts';

export type Gen = { kind: 'float'; lo: number; hi: number } | { kind: 'int'; lo: number; hi: number } | { kind: 'bool' };
export const U: Gen = { kind: 'float', lo: -2, hi: 2 };
export const POS: Gen = { kind: 'float', lo: 0.2, hi: 3 };

export interface InputSpec {
  name: string;
  /** 'F' stands for the float dtype under test. */
  dtype: DType | 'F';
  shape: Dim[];
  gen?: Gen;
}

export interface Stats {
  /** max |ort - ref| over all outputs and sizes. */
  maxAbs: number;
  /** maxAbs relative to max(1, max |ref|). */
  rel: number;
}

let seed = 1;

export function makeFeed(dtype: DType, shape: number[], gen: Gen = U): HostTensor {
  const s = seed++;
  if (dtype === 'bool') return hostTensor('bool', shape, Array.from(randomUniform(s, shape, 0, 1).data as Float64Array, (v) => (v < 0.5 ? 0 : 1)));
  if (dtype === 'int64' || dtype === 'int32') {
    const g = gen.kind === 'int' ? gen : { lo: -5, hi: 5 };
    return randomInts(s, shape, g.lo, g.hi, dtype);
  }
  const f = gen.kind === 'float' ? gen : { lo: -2, hi: 2 };
  return randomUniform(s, shape, f.lo, f.hi, dtype as 'float32');
}

/** Compares one ORT output with the reference (exact for ints and bools). */
export function compareTensors(name: string, got: HostTensor, ref: HostTensor): { maxAbs: number; maxRef: number } {
  if (got.shape.join(',') !== ref.shape.join(',')) throw new Error(`${name}: shape [${got.shape}] vs reference [${ref.shape}]`);
  let maxAbs = 0;
  let maxRef = 0;
  const a = got.data as ArrayLike<number | bigint>;
  const b = ref.data as ArrayLike<number | bigint>;
  const exact = !(ref.dtype === 'float64' || ref.dtype === 'float32');
  for (let i = 0; i < b.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (Number.isNaN(x) !== Number.isNaN(y)) throw new Error(`${name}[${i}]: ${x} vs reference ${y}`);
    if (Number.isNaN(y)) continue;
    if (exact && x !== y) throw new Error(`${name}[${i}]: ${x} vs reference ${y} (${ref.dtype})`);
    maxAbs = Math.max(maxAbs, Math.abs(x - y));
    maxRef = Math.max(maxRef, Math.abs(y));
  }
  return { maxAbs, maxRef };
}

export class Harness {
  readonly cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-onnx-test-'));

  cleanup(): void {
    rmSync(this.cacheDir, { recursive: true, force: true });
  }

  /**
   * Builds a graph with the given inputs, compiles it, runs it at each size env and compares
   * with the interpreter.
   */
  async check(o: {
    name: string;
    dtype: 'float32' | 'float64';
    inputs: InputSpec[];
    build: (ins: Tensor[], g: Graph) => Record<string, Tensor>;
    envs: Record<string, number>[];
    compile?: CompileOptions;
    params?: Record<string, HostTensor | QuantizedWeight>;
    feeds?: (env: Record<string, number>) => Record<string, HostTensor>;
  }): Promise<Stats> {
    const g = new Graph(o.name);
    const ins = o.inputs.map((s) => g.input(s.name, s.dtype === 'F' ? o.dtype : s.dtype, s.shape));
    g.setOutputs(o.build(ins, g));
    const cg = await compile(g, { cacheDir: this.cacheDir, threads: 1, ...o.compile, params: o.params });
    try {
      let maxAbs = 0;
      let maxRef = 0;
      for (const env of o.envs) {
        const feeds: Record<string, HostTensor> = {};
        for (const s of o.inputs) feeds[s.name] = makeFeed(s.dtype === 'F' ? o.dtype : s.dtype, s.shape.map((d) => resolveDim(d, env)), s.gen);
        Object.assign(feeds, o.feeds?.(env));
        const got = await cg.run(feeds);
        const ref = await evaluate(g, feeds, { params: o.params });
        for (const name of Object.keys(ref)) {
          const c = compareTensors(`${o.name}.${name} ${JSON.stringify(env)}`, got[name]!, ref[name]!);
          maxAbs = Math.max(maxAbs, c.maxAbs);
          maxRef = Math.max(maxRef, c.maxRef);
        }
      }
      return { maxAbs, rel: maxAbs / Math.max(1, maxRef) };
    } finally {
      await cg.dispose();
    }
  }
}

/** Relative tolerance per compute dtype (float32 kernels vs a float64 oracle). */
export const TOL = { float32: 1e-5, float64: 1e-12 } as const;

export function fmt(s: Stats): string {
  return `max abs err ${s.maxAbs.toExponential(2)} (rel ${s.rel.toExponential(2)})`;
}

export { randomUniform, randomInts, hostTensor };
