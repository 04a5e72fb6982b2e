// The TinyGSM verifier (Liu et al., 2023, §8 of the reference notes): the decoder trunk of a
// small LM plus one scalar head shared across positions (`score.weight` [1, hidden],
// `score.bias` [1]), all weights trained. Each training example is (question prompt, candidate
// solution, label), label 1 when executing the candidate gives the gold answer. The label
// supervises EVERY generated token with binary cross-entropy ("sequence-to-sequence" style, which
// the paper found better than a sequence-classification loss); prompt tokens take no loss. At
// test time the score of a candidate is sigmoid(head) at its last token (the EOS we append).
//
// Per-token BCE is written as a two-class cross-entropy over logits [0, s]: softmax([0, s])[1] =
// sigmoid(s), so CE = −y·log σ(s) − (1−y)·log(1−σ(s)), and the graph reuses the IR's
// cross_entropy with its ignore index as the loss mask (IGNORE_INDEX targets take no loss).
import { Graph, type Tensor } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import { Linear } from '../../nn/layers.ts';
import type { CausalLMArch } from '../../models/causal-lm.ts';
import { IGNORE_INDEX } from '../../data/packing.ts';
import { SlmError } from '../../errors.ts';
import { appendBackwardAndOptimizer } from '../../train/step-graph.ts';
import { ShuffledRowBatches, rowEvalRows } from '../../train/shuffled-rows.ts';
import { copyTokens, requireDecoder, tokenFeeds, type EvalRows, type TokenBatch, type TrainObjective } from '../../train/objective.ts';

/** Module name of the scalar head in the verifier's checkpoint. */
export const VERIFIER_HEAD = 'score';

/** Verifier logits [batch, seq] (before the sigmoid) of the given rows. */
export function verifierLogits<C>(vb: VarBuilder, arch: CausalLMArch<C>, config: C, inputIds: Tensor, positions: Tensor): Tensor {
  const [B, S] = inputIds.shape;
  const H = arch.hiddenSize(config);
  const r = arch.forward(vb, config, { inputIds, positions });
  return Linear(vb.pp(VERIFIER_HEAD), r.hidden, H, 1, true).reshape([B!, S!]);
}

/** Head tensors added to a trunk. */
export function verifierHeadShapes(hidden: number): Map<string, number[]> {
  return new Map([
    [`${VERIFIER_HEAD}.weight`, [1, hidden]],
    [`${VERIFIER_HEAD}.bias`, [1]],
  ]);
}

function verifierLoss<C>(g: Graph, vb: VarBuilder, arch: CausalLMArch<C>, config: C, B: number, S: number): Tensor {
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const positions = g.input('position_ids', 'int64', [B, S]);
  const targets = g.input('targets', 'int64', [B, S]);
  const s = verifierLogits(vb, arch, config, inputIds, positions).reshape([B * S, 1]);
  const twoClass = b.concat([b.mul(s, 0), s], 1);
  return b.crossEntropy(twoClass, targets.reshape([B * S]), IGNORE_INDEX);
}

/** Per-token BCE on the verifier head; targets hold the 0/1 label on scored tokens. */
export const verifierObjective: TrainObjective = {
  name: 'verifier',
  checkArch: (arch) => void requireDecoder(arch, 'verifier'),
  buildTrainGraph(arch, config, store, o) {
    const dec = requireDecoder(arch, 'verifier');
    const g = new Graph(`${arch.modelType}-verifier-train-${o.variant}`);
    const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
    const loss = verifierLoss(g, vb, dec, config, o.batch, o.seqLen);
    return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
  },
  buildEvalGraph(arch, config, store, o) {
    const dec = requireDecoder(arch, 'verifier');
    const g = new Graph(`${arch.modelType}-verifier-loss`);
    const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
    g.setOutputs({ loss: verifierLoss(g, vb, dec, config, o.batch, o.seqLen) });
    return g;
  },
  createBatchFeeds(batch, seqLen) {
    const { ids, targets, feeds } = tokenFeeds(batch, seqLen);
    return { feeds, fill: (bt) => copyTokens(bt, ids, targets) };
  },
};

/** One labelled candidate: the generator prompt, what the generator wrote, and 0/1. */
export interface VerifierExample {
  prompt: string;
  completion: string;
  label: 0 | 1;
}

/** Token ids of a candidate and where its generated part starts (the rest is the prompt). */
export interface EncodedCandidate {
  ids: number[];
  /** Index of the first generated token. */
  start: number;
}

export interface CandidateEncoder {
  encode(text: string): number[];
  bosId?: number;
  eosId: number;
}

/**
 * [BOS] prompt completion EOS. The EOS closes every candidate, so the score is always read at
 * the same kind of token whatever the generator's last word was.
 */
export function encodeCandidate(enc: CandidateEncoder, prompt: string, completion: string): EncodedCandidate {
  const p = [...(enc.bosId !== undefined ? [enc.bosId] : []), ...enc.encode(prompt)];
  return { ids: [...p, ...enc.encode(completion), enc.eosId], start: p.length };
}

export interface EncodedExamples {
  rows: EncodedCandidate[];
  labels: (0 | 1)[];
}

/** Encodes the examples; ones longer than seqLen are dropped and counted. */
export function encodeVerifierExamples(examples: readonly VerifierExample[], enc: CandidateEncoder, seqLen: number): EncodedExamples & { dropped: number } {
  const rows: EncodedCandidate[] = [];
  const labels: (0 | 1)[] = [];
  let dropped = 0;
  for (const e of examples) {
    const r = encodeCandidate(enc, e.prompt, e.completion);
    if (r.ids.length > seqLen) {
      dropped++;
      continue;
    }
    rows.push(r);
    labels.push(e.label);
  }
  return { rows, labels, dropped };
}

function writeRow(e: EncodedExamples, k: number, out: TokenBatch, at: number, seqLen: number, padId: number): void {
  const row = e.rows[k]!;
  out.inputs.fill(padId, at * seqLen, (at + 1) * seqLen);
  out.inputs.set(row.ids, at * seqLen);
  out.targets.fill(IGNORE_INDEX, at * seqLen, (at + 1) * seqLen);
  out.targets.fill(e.labels[k]!, at * seqLen + row.start, at * seqLen + row.ids.length);
}

function emptyBatch(batch: number, seqLen: number, padId: number): TokenBatch {
  return { inputs: new Int32Array(batch * seqLen).fill(padId), targets: new Int32Array(batch * seqLen).fill(IGNORE_INDEX) };
}

/** Endless shuffled epochs of verifier rows (right-padded; causal attention never sees the padding). */
export class VerifierBatches extends ShuffledRowBatches {
  constructor(e: EncodedExamples, batch: number, seqLen: number, padId: number, seed: number) {
    if (e.rows.length === 0) throw new SlmError('INVALID_ARGUMENT', 'the verifier has no training examples');
    super(e.rows.length, batch, `verifier:${seed}`, (n) => emptyBatch(n, seqLen, padId), (k, out, at) => writeRow(e, k, out, at, seqLen, padId));
  }
}

export function verifierEvalRows(e: EncodedExamples, seqLen: number, padId: number): EvalRows {
  return rowEvalRows(e.rows.length, (n) => emptyBatch(n, seqLen, padId), (k, out, at) => writeRow(e, k, out, at, seqLen, padId));
}
