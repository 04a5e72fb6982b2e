// Scoring examples with a PET model: the MLM head's logits at the mask slots turned into one
// logit per label.
//   single-token PVP  label logit = mean raw MLM logit of the label's verbalizations (the
//                     reference's _convert_single_mlm_logits_to_cls_logits).
//   multi-token PVP   the reference's default decoding (MultiMaskTaskHelper, "default"): a
//                     candidate gets as many masks as it has tokens; at each step the model runs,
//                     the still-masked slot where the candidate's token is most probable is
//                     filled with it, and that token's log-probability is added; the score is
//                     the sum (a log-probability, so labels compare across lengths as the
//                     reference compares them).
// The graphs are built per mask count and run through a caller-given runner (onnxruntime in the
// CLI, the float64 interpreter in tests).
import type { HostTensor } from '../../ir/dtype.ts';
import type { WeightStore } from '../../nn/var-builder.ts';
import type { GraphRunner } from '../../models/decoder-session.ts';
import type { Graph } from '../../ir/graph.ts';
import { encoderFeeds } from '../../models/encoder-inputs.ts';
import type { MaskedLMArch } from '../../models/roberta.ts';
import type { EncoderConfig } from '../../models/encoder-config.ts';
import { throwIfAborted } from '../../errors.ts';
import { buildPetInferenceGraph } from './graphs.ts';
import type { BoundPvp, PvpRow } from './encode.ts';
import type { Example } from './pvp.ts';

export type BuildRunner = (g: Graph) => Promise<GraphRunner>;

/** One MLM model (base weights or a trained PET model) that can score PVP rows. */
export class MaskScorer {
  private readonly runners = new Map<number, Promise<GraphRunner>>();
  constructor(
    private readonly arch: MaskedLMArch<EncoderConfig>,
    private readonly config: EncoderConfig,
    private readonly store: WeightStore,
    private readonly build: BuildRunner,
    private readonly dtype: 'float32' | 'float64' = 'float32',
  ) {}

  private runner(M: number): Promise<GraphRunner> {
    let r = this.runners.get(M);
    if (!r) {
      r = this.build(buildPetInferenceGraph(this.arch, this.config, this.store, M, this.dtype));
      this.runners.set(M, r);
    }
    return r;
  }

  /** Logits [rows][M][vocab] at `sel[row]` (M positions per row). */
  async maskLogits(rows: readonly number[][], sel: readonly number[][]): Promise<Float64Array[][]> {
    const M = sel[0]!.length;
    const S = Math.max(...rows.map((r) => r.length));
    const B = rows.length;
    const feeds: Record<string, HostTensor> = encoderFeeds(this.arch, this.config, rows.map((ids) => ({ ids, types: null })), S);
    delete feeds.token_type_ids; // the PET graphs read no segment ids
    const selData = this.dtype === 'float64' ? new Float64Array(B * M * S) : new Float32Array(B * M * S);
    sel.forEach((ps, b) => ps.forEach((p, m) => (selData[(b * M + m) * S + p] = 1)));
    feeds.mask_sel = { dtype: this.dtype, shape: [B, M, S], data: selData };
    const out = (await (await this.runner(M)).run(feeds)).logits!;
    const V = out.shape[2]!;
    const data = out.data as Float32Array | Float64Array;
    return Array.from({ length: B }, (_, b) => Array.from({ length: M }, (_, m) => Float64Array.from(data.subarray((b * M + m) * V, (b * M + m + 1) * V))));
  }

  async dispose(): Promise<void> {
    for (const r of this.runners.values()) await (await r).dispose?.();
    this.runners.clear();
  }
}

function logSoftmax(x: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return x.map((v) => v - lse);
}

/** Label logits of single-token rows from their mask logits. */
export function singleTokenLabelLogits(maskLogits: Float64Array, verbalizations: number[][][]): number[] {
  return verbalizations.map((vs) => vs.reduce((a, ids) => a + maskLogits[ids[0]!]!, 0) / vs.length);
}

export interface ScoreOptions {
  maxLength: number;
  batchSize?: number;
  signal?: AbortSignal;
}

/** Label logits [examples][labels] of `pvp` for `examples` under `scorer`. */
export async function scorePvp(scorer: MaskScorer, pvp: BoundPvp, examples: readonly Example[], o: ScoreOptions): Promise<number[][]> {
  const out: number[][] = [];
  const B = o.batchSize ?? 16;
  if (pvp.numMasks === 1) {
    for (let i = 0; i < examples.length; i += B) {
      throwIfAborted(o.signal);
      const rows = examples.slice(i, i + B).map((e) => pvp.encode(e, o.maxLength));
      const logits = await scorer.maskLogits(rows.map((r) => r.ids), rows.map((r) => r.masks));
      logits.forEach((l) => out.push(singleTokenLabelLogits(l[0]!, pvp.verbalizations)));
    }
    return out;
  }
  for (const e of examples) {
    throwIfAborted(o.signal);
    // A label with several verbalizations scores by its best one.
    const scores: number[] = [];
    for (const vs of pvp.verbalizations) {
      let best = -Infinity;
      for (const tokens of vs) best = Math.max(best, await decodeCandidate(scorer, pvp.encode(e, o.maxLength, tokens.length), tokens));
      scores.push(best);
    }
    out.push(scores);
  }
  return out;
}

/** The reference's default multi-mask decoding of one candidate (see the header). */
export async function decodeCandidate(scorer: MaskScorer, row: PvpRow, tokens: readonly number[]): Promise<number> {
  const ids = row.ids.slice();
  // open[k] = [position in the row, index into tokens]
  let open = row.masks.map((p, k) => [p, k] as const);
  let total = 0;
  while (open.length > 0) {
    const [logits] = await scorer.maskLogits([ids], [open.map(([p]) => p)]);
    let bestK = 0;
    let bestLp = -Infinity;
    open.forEach(([, k], j) => {
      const lp = logSoftmax(logits![j]!)[tokens[k]!]!;
      if (lp > bestLp) {
        bestLp = lp;
        bestK = j;
      }
    });
    const [pos, k] = open[bestK]!;
    ids[pos] = tokens[k]!;
    total += bestLp;
    open = open.filter((_, j) => j !== bestK);
  }
  return total;
}

export function softmax(x: readonly number[], temperature = 1): number[] {
  const m = Math.max(...x.map((v) => v / temperature));
  const e = x.map((v) => Math.exp(v / temperature - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function argmax(x: readonly number[]): number {
  let k = 0;
  x.forEach((v, i) => {
    if (v > x[k]!) k = i;
  });
  return k;
}

/** Accuracy of label logits against gold label ids. */
export function accuracy(logits: readonly number[][], gold: readonly number[]): number {
  if (gold.length === 0) return 0;
  return logits.filter((l, i) => argmax(l) === gold[i]).length / gold.length;
}

/**
 * The reference's merge_logits: Σ_p w_p·s_p / Σ_p w_p over models ('wmean': w_p the model's
 * train-set accuracy before training; 'mean': w_p = 1). All weights 0 falls back to the mean.
 */
export function mergeLogits(models: readonly { logits: number[][]; weight: number }[], reduction: 'wmean' | 'mean'): number[][] {
  const ws = models.map((m) => (reduction === 'mean' ? 1 : m.weight));
  const sum = ws.reduce((a, b) => a + b, 0);
  const w = sum > 0 ? ws.map((x) => x / sum) : ws.map(() => 1 / models.length);
  const n = models[0]!.logits.length;
  return Array.from({ length: n }, (_, i) => models[0]!.logits[i]!.map((_, y) => models.reduce((a, m, k) => a + w[k]! * m.logits[i]![y]!, 0)));
}
