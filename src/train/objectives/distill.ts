// Token-level knowledge distillation (Hinton et al. 2015) on a decoder. Per target position
//   loss = alpha · CE(student, hard label) + (1 − alpha) · T² · H(p_teacher^T, q_student^T)
// with p^T = softmax(teacher_logits / T), q^T = softmax(student_logits / T). The soft term is
// the cross-entropy to the teacher; it differs from KL(p‖q) only by the teacher's entropy,
// a constant for the student, so the gradients are KL's (the T² keeps their scale as T
// changes). Positions without a target (IGNORE_INDEX) take no loss of either kind.
// The teacher runs in prepare() (async, before the batch is fed) on the same rows, so its
// context is exactly the student's. Evaluation reports the plain hard-label cross-entropy,
// comparable with a causal-lm run's held-out loss.
import { Graph } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import { SlmError } from '../../errors.ts';
import { IGNORE_INDEX } from '../../data/packing.ts';
import { appendBackwardAndOptimizer, buildCausalLMLossGraph } from '../step-graph.ts';
import { copyTokens, requireDecoder, tokenFeeds, type TokenBatch, type TrainObjective } from '../objective.ts';
import { temperatureSoftmax, truncateTopK, type TopKRemainder } from '../distill-teacher.ts';

/** Teacher logits of each row: rows[r] (seqLen ids) → seqLen × V logits, row-major. */
export type TeacherLogits = (rows: Int32Array[], signal?: AbortSignal) => Promise<Float32Array[]>;

export interface DistillOptions {
  teacher: TeacherLogits;
  vocabSize: number;
  /** Tokens per row (rows of a batch are split at this length). */
  seqLen: number;
  temperature: number;
  /** Weight of the hard-label loss (1 − alpha on the soft loss). */
  alpha: number;
  topK?: number | null;
  remainder?: TopKRemainder;
}

type DistillBatch = TokenBatch & { teacherProbs?: Float32Array };

export function distillObjective(d: DistillOptions): TrainObjective & { prepare(bt: TokenBatch): Promise<void> } {
  const name = 'distill';
  const T = d.temperature;
  const V = d.vocabSize;
  return {
    name,
    checkArch: (arch) => void requireDecoder(arch, name),
    buildTrainGraph(arch, config, store, o) {
      const dec = requireDecoder(arch, name);
      if (o.dtype !== 'float32') throw new SlmError('INVALID_ARGUMENT', 'objective distill trains in float32 only');
      if (dec.vocabSize(config) !== V) throw new SlmError('INVALID_ARGUMENT', `objective distill: student vocab_size ${dec.vocabSize(config)} differs from the teacher's ${V}`);
      const g = new Graph(`${arch.modelType}-distill-train-${o.variant}`);
      const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
      const N = o.batch * o.seqLen;
      const inputIds = g.input('input_ids', 'int64', [o.batch, o.seqLen]);
      const positions = g.input('position_ids', 'int64', [o.batch, o.seqLen]);
      const targets = g.input('targets', 'int64', [o.batch, o.seqLen]);
      const teacher = g.input('teacher_probs', 'float32', [N, V]);
      // 1 / (loss-carrying positions) where a target is, else 0: the soft loss's mean.
      const weight = g.input('soft_weight', 'float32', [N]);
      const r = dec.forward(vb, config, { inputIds, positions });
      const logits = r.head(r.hidden).reshape([N, V]);
      const hard = b.crossEntropy(logits, targets.reshape([N]));
      const logq = b.logSoftmax(b.div(logits, T), -1);
      const perPos = b.reduceSum(b.mul(teacher, logq), [-1]); // −H per position
      const soft = b.mul(b.reduceSum(b.mul(perPos, weight)), -T * T);
      const loss = b.add(b.mul(hard, d.alpha), b.mul(soft, 1 - d.alpha));
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph: (arch, config, store, o) => buildCausalLMLossGraph(requireDecoder(arch, name), config, store, o),
    async prepare(bt: DistillBatch) {
      const rows: Int32Array[] = [];
      const S = d.seqLen;
      for (let off = 0; off < bt.inputs.length; off += S) rows.push(bt.inputs.subarray(off, off + S));
      const logits = await d.teacher(rows);
      const probs = new Float32Array(bt.inputs.length * V);
      for (let r = 0; r < rows.length; r++) {
        const l = logits[r]!;
        for (let p = 0; p < S; p++) {
          const at = (r * S + p) * V;
          if (bt.targets[r * S + p] === IGNORE_INDEX) continue; // stays zero: no soft loss there
          temperatureSoftmax(l.subarray(p * V, (p + 1) * V), T, probs, at);
          if (d.topK) truncateTopK(probs, at, V, d.topK, d.remainder ?? 'uniform');
        }
      }
      bt.teacherProbs = probs;
    },
    createBatchFeeds(batch, seqLen) {
      const { ids, targets, feeds } = tokenFeeds(batch, seqLen);
      const N = batch * seqLen;
      const weight = new Float32Array(N);
      return {
        feeds,
        fill(bt: DistillBatch) {
          const n = copyTokens(bt, ids, targets);
          // Training batches come through prepare() with the teacher's probabilities; evaluation
          // batches have none and the eval graph (hard-label CE) takes no teacher feeds.
          if (!bt.teacherProbs) {
            delete feeds.teacher_probs;
            delete feeds.soft_weight;
            return n;
          }
          for (let i = 0; i < N; i++) weight[i] = bt.targets[i] === IGNORE_INDEX || n === 0 ? 0 : 1 / n;
          feeds.soft_weight = { dtype: 'float32', shape: [N], data: weight };
          feeds.teacher_probs = { dtype: 'float32', shape: [N, V], data: bt.teacherProbs };
          return n;
        },
      };
    },
  };
}
