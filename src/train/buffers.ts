// Trainable weights and their AdamW moments as plain JS typed arrays, double-buffered: step t
// feeds slot A and has onnxruntime write new.<w> / new_m.<w> / new_v.<w> straight into slot B
// (preallocated fetches), then the slots swap. Inputs are never outputs of the same run (the
// binding aliases buffers; findings §4.5), and no array is allocated per step.
//
// Without preallocation (kept for measurement), onnxruntime allocates the outputs and they
// become the next step's inputs.
import type { HostTensor } from '../ir/dtype.ts';
import { SlmError } from '../errors.ts';

export type TrainDType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export interface WeightSpec {
  name: string;
  shape: number[];
}

interface Slot {
  param: HostTensor[];
  m: HostTensor[];
  v: HostTensor[];
  acc: HostTensor[];
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function allocFloat(dtype: TrainDType, n: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export class TrainBuffers {
  private readonly slots: [Slot, Slot];
  private cur = 0;
  private accCur = 0;
  private readonly accSlots: [HostTensor[], HostTensor[]];

  constructor(
    readonly weights: readonly WeightSpec[],
    readonly dtype: TrainDType,
    /** Allocate gradient accumulators (gradient accumulation > 1). */
    withAccumulators: boolean,
    readonly preallocate = true,
  ) {
    const tensor = (w: WeightSpec): HostTensor => ({ dtype, shape: w.shape, data: allocFloat(dtype, numel(w.shape)) });
    const slot = (): Slot => ({ param: weights.map(tensor), m: weights.map(tensor), v: weights.map(tensor), acc: [] });
    this.slots = [slot(), preallocate ? slot() : slot()];
    this.accSlots = withAccumulators ? [weights.map(tensor), weights.map(tensor)] : [[], []];
  }

  private index(name: string): number {
    const i = this.weights.findIndex((w) => w.name === name);
    if (i < 0) throw new SlmError('NOT_FOUND', `no trainable weight '${name}'`);
    return i;
  }

  /** The current value of a weight / moment (views into the live buffers). */
  param(name: string): FloatArray {
    return this.slots[this.cur].param[this.index(name)]!.data as FloatArray;
  }
  moment(kind: 'm' | 'v', name: string): FloatArray {
    return this.slots[this.cur][kind][this.index(name)]!.data as FloatArray;
  }

  /** Feeds of the current weights (and moments when `withMoments`). */
  feeds(withMoments: boolean): Record<string, HostTensor> {
    const s = this.slots[this.cur];
    const f: Record<string, HostTensor> = {};
    this.weights.forEach((w, i) => {
      f[w.name] = s.param[i]!;
      if (withMoments) {
        f[`m.${w.name}`] = s.m[i]!;
        f[`v.${w.name}`] = s.v[i]!;
      }
    });
    return f;
  }

  /** Fetches of the update graph: the other slot's buffers (or null to let ORT allocate). */
  updateFetches(): Record<string, HostTensor | null> {
    const s = this.slots[1 - this.cur];
    const f: Record<string, HostTensor | null> = { loss: null, grad_norm: null };
    this.weights.forEach((w, i) => {
      f[`new.${w.name}`] = this.preallocate ? s.param[i]! : null;
      f[`new_m.${w.name}`] = this.preallocate ? s.m[i]! : null;
      f[`new_v.${w.name}`] = this.preallocate ? s.v[i]! : null;
    });
    return f;
  }

  /** After an update run: the written slot becomes current. */
  commitUpdate(out: Record<string, HostTensor>): void {
    const next = this.slots[1 - this.cur];
    if (!this.preallocate) {
      this.weights.forEach((w, i) => {
        next.param[i] = out[`new.${w.name}`]!;
        next.m[i] = out[`new_m.${w.name}`]!;
        next.v[i] = out[`new_v.${w.name}`]!;
      });
    }
    this.cur = 1 - this.cur;
  }

  /** Zeroes the accumulators at the start of an optimizer step. */
  resetAccumulators(): void {
    for (const t of this.accSlots[this.accCur]) (t.data as FloatArray).fill(0);
  }
  accFeeds(): Record<string, HostTensor> {
    const f: Record<string, HostTensor> = {};
    this.weights.forEach((w, i) => (f[`acc.${w.name}`] = this.accSlots[this.accCur][i]!));
    return f;
  }
  accFetches(): Record<string, HostTensor | null> {
    const f: Record<string, HostTensor | null> = { loss: null };
    this.weights.forEach((w, i) => (f[`acc_out.${w.name}`] = this.accSlots[1 - this.accCur][i]!));
    return f;
  }
  commitAccumulate(): void {
    this.accCur = 1 - this.accCur;
  }

  /** Sets a weight and its moments (initial values or a checkpoint). */
  load(name: string, param: ArrayLike<number>, m?: ArrayLike<number>, v?: ArrayLike<number>): void {
    const i = this.index(name);
    const s = this.slots[this.cur];
    const set = (t: HostTensor, src: ArrayLike<number> | undefined, what: string) => {
      const d = t.data as FloatArray;
      if (src === undefined) return d.fill(0);
      if (src.length !== d.length) throw new SlmError('SHAPE_MISMATCH', `${what} of '${name}' has ${src.length} values, expected ${d.length}`);
      d.set(src);
    };
    set(s.param[i]!, param, 'weight');
    set(s.m[i]!, m, 'm');
    set(s.v[i]!, v, 'v');
  }

  /** Bytes held (both slots and accumulators). */
  bytes(): number {
    const per = this.dtype === 'float64' ? 8 : 4;
    const n = this.weights.reduce((a, w) => a + numel(w.shape), 0);
    return per * n * (6 + (this.accSlots[0].length ? 2 : 0));
  }
}
