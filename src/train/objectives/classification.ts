// Sequence classification on a BERT-family encoder: cross-entropy of the
// …ForSequenceClassification head over the labels. Examples travel through the trainer as
// TokenBatch rows, so checkpoints, resume, schedules and evaluation stay the trainer's:
//   inputs        token ids with special tokens, right-padded with the model's pad id
//   targets       the label id at each row's first position, IGNORE_INDEX elsewhere
//   prefixLengths where the second segment (text_pair) starts; 0: a single text
import { Graph } from '../../ir/graph.ts';
import type { HostTensor } from '../../ir/dtype.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../../nn/var-builder.ts';
import type { ModelArch } from '../../models/causal-lm.ts';
import { isMaskedLMArch, paddingBias, type MaskedLMArch } from '../../models/roberta.ts';
import type { EncoderConfig } from '../../models/encoder-config.ts';
import { encoderFeeds, type EncoderInputs, type EncoderRow } from '../../models/encoder-inputs.ts';
import type { LabelledExample } from '../../data/labelled.ts';
import { IGNORE_INDEX } from '../../data/packing.ts';
import { SlmError } from '../../errors.ts';
import { appendBackwardAndOptimizer } from '../step-graph.ts';
import { ShuffledRowBatches, rowEvalRows } from '../shuffled-rows.ts';
import type { EvalGraphOptions, EvalRows, TokenBatch, TrainObjective } from '../objective.ts';

function requireEncoder(arch: ModelArch<unknown>): MaskedLMArch<EncoderConfig> {
  if (!isMaskedLMArch(arch)) throw new SlmError('INVALID_ARGUMENT', `objective classification needs a bidirectional encoder (roberta, bert); ${arch.modelType} is a decoder`);
  return arch as MaskedLMArch<EncoderConfig>;
}

function classificationLoss(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, store: WeightStore, o: EvalGraphOptions, g: Graph, numLabels: number) {
  const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
  const shape = [o.batch, o.seqLen];
  const inputIds = g.input('input_ids', 'int64', shape);
  const positions = g.input('position_ids', 'int64', shape);
  const mask = g.input('attention_mask', 'int64', shape);
  const tokenTypes = g.input('token_type_ids', 'int64', shape);
  const labels = g.input('labels', 'int64', [o.batch]);
  const r = arch.forward(vb, c, { inputIds, positions, tokenTypes, attentionBias: paddingBias(mask, o.dtype) });
  return { vb, loss: b.crossEntropy(arch.sequenceClassifier(vb, c, r.hidden, numLabels), labels) };
}

export function classificationObjective(numLabels: number, arch0: ModelArch<unknown>, config0: unknown): TrainObjective {
  const arch = requireEncoder(arch0);
  const config = config0 as EncoderConfig;
  return {
    name: 'classification',
    checkArch: (a) => void requireEncoder(a),
    buildTrainGraph(a, c, store, o) {
      const g = new Graph(`${a.modelType}-cls-train-${o.variant}`);
      const { vb, loss } = classificationLoss(requireEncoder(a), c as EncoderConfig, store, o, g, numLabels);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph(a, c, store, o) {
      const g = new Graph(`${a.modelType}-cls-loss`);
      g.setOutputs({ loss: classificationLoss(requireEncoder(a), c as EncoderConfig, store, o, g, numLabels).loss });
      return g;
    },
    createBatchFeeds(batch, seqLen) {
      const labels = new BigInt64Array(batch);
      let feeds = encoderFeeds(arch, config, [], seqLen, batch);
      const all: Record<string, HostTensor> = { ...feeds, labels: { dtype: 'int64', shape: [batch], data: labels } };
      return {
        feeds: all,
        fill(bt) {
          const padId = arch.padTokenId(config);
          const rows: EncoderRow[] = [];
          let count = 0;
          for (let r = 0; r < batch; r++) {
            const slice = Array.from(bt.inputs.subarray(r * seqLen, (r + 1) * seqLen));
            let n = slice.length;
            while (n > 0 && slice[n - 1] === padId) n--;
            const ids = slice.slice(0, n);
            const start = bt.prefixLengths?.[r] ?? 0;
            rows.push({ ids, types: start > 0 ? ids.map((_, j) => (j >= start ? 1 : 0)) : null });
            labels[r] = BigInt(bt.targets[r * seqLen]!);
            if (bt.targets[r * seqLen] !== IGNORE_INDEX) count++;
          }
          feeds = encoderFeeds(arch, config, rows, seqLen, batch);
          for (const k of Object.keys(feeds)) (all[k]!.data as BigInt64Array).set(feeds[k]!.data as BigInt64Array);
          return count;
        },
      };
    },
  };
}

/** Encoded examples with their label ids. */
export interface EncodedExamples {
  rows: EncoderRow[];
  labels: number[];
}

export function encodeExamples(examples: readonly LabelledExample[], labelIds: Map<string, number>, inputs: EncoderInputs, seqLen: number, file: string): EncodedExamples {
  const rows: EncoderRow[] = [];
  const labels: number[] = [];
  examples.forEach((e, i) => {
    const id = labelIds.get(e.label);
    if (id === undefined) throw new SlmError('INVALID_ARGUMENT', `${file}: example ${i + 1} has label ${JSON.stringify(e.label)}, which is not one of the labels (${[...labelIds.keys()].join(', ')})`);
    const row = inputs.encode(e.textPair === undefined ? e.text : { text: e.text, text_pair: e.textPair });
    if (row.ids.length > seqLen) throw new SlmError('INVALID_ARGUMENT', `${file}: example ${i + 1} has ${row.ids.length} tokens, more than seqLen ${seqLen} (raise seqLen or shorten it)`);
    rows.push(row);
    labels.push(id);
  });
  return { rows, labels };
}

function writeRow(e: EncodedExamples, k: number, out: TokenBatch, at: number, seqLen: number, padId: number): void {
  const row = e.rows[k]!;
  out.inputs.fill(padId, at * seqLen, (at + 1) * seqLen);
  out.inputs.set(row.ids, at * seqLen);
  out.targets[at * seqLen] = e.labels[k]!;
  out.prefixLengths![at] = row.types ? row.types.indexOf(1) : 0;
}

function emptyBatch(batch: number, seqLen: number, padId: number): TokenBatch {
  return { inputs: new Int32Array(batch * seqLen).fill(padId), targets: new Int32Array(batch * seqLen).fill(IGNORE_INDEX), prefixLengths: new Int32Array(batch) };
}

/** Endless shuffled epochs over the examples. */
export class ClassificationBatches extends ShuffledRowBatches {
  constructor(e: EncodedExamples, batch: number, seqLen: number, padId: number, seed: number) {
    super(e.rows.length, batch, `classification:${seed}`, (n) => emptyBatch(n, seqLen, padId), (k, out, at) => writeRow(e, k, out, at, seqLen, padId));
  }
}

export function classificationEvalRows(e: EncodedExamples, seqLen: number, padId: number): EvalRows {
  return rowEvalRows(e.rows.length, (n) => emptyBatch(n, seqLen, padId), (k, out, at) => writeRow(e, k, out, at, seqLen, padId));
}

/** Accuracy, macro-F1 and Matthews correlation (multiclass, Gorodkin's R_K) of predictions. */
export function classificationMetrics(gold: readonly number[], pred: readonly number[], numLabels: number): { accuracy: number; macro_f1: number; mcc: number } {
  const cm = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  gold.forEach((g, i) => cm[g]![pred[i]!]!++);
  const n = gold.length;
  let correct = 0;
  let f1 = 0;
  const t = new Array<number>(numLabels).fill(0); // true counts
  const p = new Array<number>(numLabels).fill(0); // predicted counts
  for (let k = 0; k < numLabels; k++) {
    correct += cm[k]![k]!;
    for (let j = 0; j < numLabels; j++) {
      t[k]! += cm[k]![j]!;
      p[k]! += cm[j]![k]!;
    }
    const tp = cm[k]![k]!;
    f1 += tp === 0 ? 0 : (2 * tp) / (t[k]! + p[k]!);
  }
  const cov = correct * n - t.reduce((a, tk, k) => a + tk * p[k]!, 0);
  const den = Math.sqrt((n * n - p.reduce((a, x) => a + x * x, 0)) * (n * n - t.reduce((a, x) => a + x * x, 0)));
  return { accuracy: n ? correct / n : 0, macro_f1: f1 / numLabels, mcc: den === 0 ? 0 : cov / den };
}
