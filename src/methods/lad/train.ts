// LengthDrop training with the sandwich rule and in-place distillation (LAT; the LAD reference
// code builds on it), on a sequence-classification encoder:
//   student = a copy of the fine-tuned teacher (same shape), trained per step on
//     full model:      CE(labels) + KL(teacher ‖ full)            (prediction-layer KD)
//     smallest + one random length configuration:
//                      KL(full ‖ sub)   with the full model's probabilities of THIS step as the
//                                       target, no gradient through them (in-place distillation)
// The full model's probabilities come from a forward pass of the current weights before the
// training step (so nothing flows back into them). One graph serves every configuration: the
// kept counts are the lengths of keep inputs (src/models/token-pruning.ts). AdamW, global-norm
// clipping and the update run inside the graph (src/train/step-graph.ts).
// Not reproduced from the LAD paper (its body was not available): the general-distillation
// stage and the contrastive terms (see docs/methods/lad.md).
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, type Tensor } from '../../ir/graph.ts';
import type { HostTensor } from '../../ir/dtype.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import { compile } from '../../runtime/session.ts';
import { encoderArch, loadEncoder, openEncoderFiles } from '../../models/encoder-model.ts';
import { EncoderInputs, encoderFeeds, type EncoderRow } from '../../models/encoder-inputs.ts';
import { paddingBias } from '../../models/roberta.ts';
import { keepFeeds } from '../../models/token-pruning.ts';
import { listEncoderTaskWeights } from '../../models/encoder-heads.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';
import { appendBackwardAndOptimizer, defaultDecays } from '../../train/step-graph.ts';
import { adamwStepFeeds } from '../../train/adamw.ts';
import { writeSafetensors } from '../../formats/safetensors-writer.ts';
import { Rng } from '../../util/rng.ts';
import { SlmError, throwIfAborted } from '../../errors.ts';
import { sampleConfig, smallestConfig, LENGTH_DROP_MAX } from './length-config.ts';
import type { EncoderConfig } from '../../models/encoder-config.ts';

export interface LadTrainOptions {
  /** Fine-tuned sequence-classification encoder folder (the teacher; the student starts from it). */
  teacher: string;
  examples: readonly { text: string; textPair?: string; label: string }[];
  out: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  /** Longest row in tokens (longer rows are cut). */
  seqLen?: number;
  pMax?: number;
  seed?: number;
  threads?: number;
  signal?: AbortSignal;
  onStep?: (s: { step: number; loss: number; gradNorm: number }) => void;
}

function softTargetsLoss(logits: Tensor, targets: Tensor, B: number): Tensor {
  // −mean_b Σ_c t[b,c] log softmax(logits)[b,c]  (KL up to the targets' constant entropy)
  return b.div(b.neg(b.reduceSum(b.mul(targets, b.logSoftmax(logits, -1)))), B);
}

/** Linear warmup over the first 6% of steps, then linear decay to 0 (LAT's fine-tuning schedule). */
function schedule(s: number, steps: number): number {
  const warm = Math.max(1, Math.ceil(steps * 0.06));
  return s <= warm ? s / warm : Math.max(0, (steps - s + 1) / (steps - warm + 1));
}

export async function ladTrain(o: LadTrainOptions): Promise<{ out: string; losses: number[] }> {
  const opened = await openEncoderFiles(o.teacher);
  const arch = encoderArch(opened.config.model_type, `${o.teacher}/config.json`);
  const config = arch.parseConfig(opened.config, `${o.teacher}/config.json`) as EncoderConfig;
  const teacherModel = await loadEncoder(o.teacher, { threads: o.threads, truncate: true });
  try {
    const labels = teacherModel.labels;
    if (teacherModel.task !== 'sequence-classification') throw new SlmError('INVALID_ARGUMENT', `${o.teacher}: LAD needs a sequence-classification encoder`);
    const L = labels.length;
    const labelId = new Map(labels.map((l, i) => [l, i]));
    for (const x of o.examples) if (!labelId.has(x.label)) throw new SlmError('INVALID_ARGUMENT', `label ${JSON.stringify(x.label)} is not one of the teacher's (${labels.join(', ')})`);
    const B = o.batchSize ?? 32;
    const steps = o.steps ?? 300;
    const lr = o.lr ?? 2e-4;
    const pMax = o.pMax ?? LENGTH_DROP_MAX;
    const rng = new Rng(o.seed ?? 0);
    // Teacher probabilities of every training example, once.
    const teacherProbs = (await teacherModel.classify(o.examples.map((x) => (x.textPair === undefined ? x.text : { text: x.text, text_pair: x.textPair })), o.signal)).map((r) => labels.map((l) => r.scores[l]!));
    const tok = await loadTokenizer(opened.tokenizerPath);
    const inputs = new EncoderInputs(arch, config, tok, { truncate: true });
    const rows: EncoderRow[] = o.examples.map((x) => inputs.encode(x.textPair === undefined ? x.text : { text: x.text, text_pair: x.textPair }));
    const S = Math.min(o.seqLen ?? 128, Math.max(...rows.map((r) => r.ids.length)));
    for (const r of rows) if (r.ids.length > S) (r.ids.length = S), r.types && (r.types.length = S);

    // Weights (all trained), from the teacher.
    const shapes = listEncoderTaskWeights(arch, config, { kind: 'classify', numLabels: L });
    const names = [...shapes.keys()];
    const weights = new Map<string, Float32Array>();
    for (const n of names) weights.set(n, Float32Array.from(await opened.store.loadF32(n)));
    const m = new Map<string, Float32Array>(names.map((n) => [n, new Float32Array(weights.get(n)!.length)]));
    const v = new Map<string, Float32Array>(names.map((n) => [n, new Float32Array(weights.get(n)!.length)]));
    const trainable = (n: string) => shapes.has(n);

    const io = (g: Graph) => {
      const ids = g.input('input_ids', 'int64', [B, S]);
      const pos = g.input('position_ids', 'int64', [B, S]);
      const mask = g.input('attention_mask', 'int64', [B, S]);
      const types = g.input('token_type_ids', 'int64', [B, S]);
      return { inputIds: ids, positions: pos, tokenTypes: types, attentionBias: paddingBias(mask, 'float32') };
    };
    // Forward of the full student (weights fed), for the in-place targets.
    const fg = new Graph('lad-full');
    const fvb = new VarBuilder(fg, opened.store, { dtype: 'float32', linear: 'float32', trainable });
    const fr = arch.forward(fvb, config, io(fg));
    fg.setOutputs({ probs: b.softmax(arch.sequenceClassifier(fvb, config, fr.hidden, L), -1) });
    // Training step: full + smallest + random sub-model.
    const g = new Graph('lad-train');
    const vb = new VarBuilder(g, opened.store, { dtype: 'float32', linear: 'float32', trainable });
    const base = io(g);
    const head = (prune?: Tensor[]) => arch.sequenceClassifier(vb, config, arch.forward(vb, config, { ...base, prune }).hidden, L);
    const y = g.input('labels', 'int64', [B]);
    const tProbs = g.input('teacher_probs', 'float32', [B, L]);
    const fProbs = g.input('full_probs', 'float32', [B, L]);
    const full = head();
    const keeps = (p: string) => Array.from({ length: config.layers }, (_, i) => g.input(`${p}keep${i}`, 'int64', [`${p}keep${i}`]));
    const small = head(keeps('s'));
    const rand = head(keeps('r'));
    const loss = b.add(b.add(b.crossEntropy(full, y), softTargetsLoss(full, tProbs, B)), b.add(softTargetsLoss(small, fProbs, B), softTargetsLoss(rand, fProbs, B)));
    const adamw = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const tg = appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => shapes.has(t.name!)), { dtype: 'float32', trainable, decays: defaultDecays, adamw, clipNorm: 1, variant: 'update', accumSteps: 1 });
    const fwd = await compile(fg, { threads: o.threads, cacheDir: false });
    const step = await compile(tg.graph, { threads: o.threads, cacheDir: false });
    const losses: number[] = [];
    try {
      let order: number[] = [];
      const smallest = smallestConfig(config.layers, pMax);
      for (let s = 1; s <= steps; s++) {
        throwIfAborted(o.signal);
        const batch: number[] = [];
        while (batch.length < B) {
          if (order.length === 0) {
            order = rows.map((_, i) => i);
            for (let i = order.length - 1; i > 0; i--) {
              const j = rng.int(i + 1);
              [order[i], order[j]] = [order[j]!, order[i]!];
            }
          }
          batch.push(order.pop()!);
        }
        const feeds: Record<string, HostTensor> = encoderFeeds(arch, config, batch.map((i) => rows[i]!), S, B);
        const w: Record<string, HostTensor> = {};
        for (const n of names) w[n] = { dtype: 'float32', shape: shapes.get(n)!, data: weights.get(n)! };
        const fp = (await fwd.run({ ...feeds, ...w })).probs!;
        const sk = keepFeeds(smallest, S);
        const rk = keepFeeds(sampleConfig(config.layers, rng, pMax), S);
        const extra: Record<string, HostTensor> = {
          labels: { dtype: 'int64', shape: [B], data: BigInt64Array.from(batch, (i) => BigInt(labelId.get(o.examples[i]!.label)!)) },
          teacher_probs: { dtype: 'float32', shape: [B, L], data: Float32Array.from(batch.flatMap((i) => teacherProbs[i]!)) },
          full_probs: fp,
          ...adamwStepFeeds(s, lr * schedule(s, steps)),
        };
        for (const [k, t] of Object.entries(sk)) extra[`s${k}`] = t;
        for (const [k, t] of Object.entries(rk)) extra[`r${k}`] = t;
        for (const n of names) {
          extra[`m.${n}`] = { dtype: 'float32', shape: shapes.get(n)!, data: m.get(n)! };
          extra[`v.${n}`] = { dtype: 'float32', shape: shapes.get(n)!, data: v.get(n)! };
        }
        const r = await step.run({ ...feeds, ...w, ...extra });
        for (const n of names) {
          weights.set(n, r[`new.${n}`]!.data as Float32Array);
          m.set(n, r[`new_m.${n}`]!.data as Float32Array);
          v.set(n, r[`new_v.${n}`]!.data as Float32Array);
        }
        const lossV = Number((r.loss!.data as Float32Array)[0]);
        losses.push(lossV);
        o.onStep?.({ step: s, loss: lossV, gradNorm: Number((r.grad_norm!.data as Float32Array)[0]) });
      }
    } finally {
      await fwd.dispose();
      await step.dispose();
    }
    // The student: the teacher's folder with the new weights.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(o.out, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'vocab.txt']) {
      if (existsSync(join(o.teacher, f))) copyFileSync(join(o.teacher, f), join(o.out, f));
    }
    await writeSafetensors(join(o.out, 'model.safetensors'), names.map((n) => ({ name: n, dtype: 'F32', shape: shapes.get(n)!, data: weights.get(n)! })), { format: 'pt' });
    return { out: o.out, losses };
  } finally {
    await teacherModel.dispose();
    await opened.checkpoint.close();
  }
}
