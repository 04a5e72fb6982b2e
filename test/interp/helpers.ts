// Small helpers for interpreter tests: build a one-op graph and evaluate it.
import assert from 'node:assert/strict';
import type { HostTensor } from '../../src/ir/index.ts';
import { toNumbers } from '../../src/interp/index.ts';

export function f64(shape: number[], values: number[]): HostTensor {
  return { dtype: 'float64', shape, data: Float64Array.from(values) };
}
export function i64(shape: number[], values: number[]): HostTensor {
  return { dtype: 'int64', shape, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

export function assertClose(actual: HostTensor | number[], expected: number[], tol = 1e-12, what = ''): void {
  const a = Array.isArray(actual) ? actual : toNumbers(actual);
  assert.equal(a.length, expected.length, `${what}: length ${a.length} vs ${expected.length}`);
  for (let i = 0; i < a.length; i++) {
    const ok = Math.abs(a[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!));
    assert.ok(ok, `${what}[${i}]: got ${a[i]}, expected ${expected[i]} (tol ${tol})\n  got      ${a.join(', ')}\n  expected ${expected.join(', ')}`);
  }
}
