// Objectives on a T5 as a true encoder-decoder: seq2seq (input/target pairs), span-corruption and
// ul2r. Their batches are the same rows the prefix-LM objectives read (src/data: one example
// per row, z = inputs targets, prefix length P = |inputs|, row target j = z[j+1] for j >= P-1);
// fill() splits each row: the encoder reads z[0..P) (the rest padded and masked), the decoder
// reads [decoder_start] z[P..] shifted right (teacher forcing) and predicts z[P..] (the
// targets and the final EOS), loss on those tokens only.
import { Graph, type Tensor } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import type { ModelArch } from '../../models/causal-lm.ts';
import { isSeq2SeqArch, type T5Config } from '../../models/t5.ts';
import { t5ForwardStatic } from '../../models/t5-graphs.ts';
import { IGNORE_INDEX } from '../../data/packing.ts';
import { SlmError } from '../../errors.ts';
import { appendBackwardAndOptimizer } from '../step-graph.ts';
import type { EvalGraphOptions, TrainObjective } from '../objective.ts';

function requireSeq2Seq(arch: ModelArch<unknown>, name: string): void {
  if (!isSeq2SeqArch(arch)) throw new SlmError('INVALID_ARGUMENT', `objective ${name} on an encoder-decoder needs a t5 model; ${arch.modelType} is a ${arch.family ?? 'causal-lm'} model`);
}

function seq2seqLoss(g: Graph, vb: VarBuilder, c: T5Config, B: number, S: number): Tensor {
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const attentionMask = g.input('attention_mask', 'int64', [B, S]);
  const decoderInputIds = g.input('decoder_input_ids', 'int64', [B, S]);
  const targets = g.input('targets', 'int64', [B, S]);
  const logits = t5ForwardStatic(vb, c, { inputIds, attentionMask, decoderInputIds });
  return b.crossEntropy(logits.reshape([B * S, c.vocabSize]), targets.reshape([B * S]));
}

function builder(o: EvalGraphOptions, g: Graph, store: ConstructorParameters<typeof VarBuilder>[1]): VarBuilder {
  return new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
}

/** An encoder-decoder objective named `name` over prefix-LM rows (the data decides the task). */
export function encoderDecoderObjective(name: string, decoderStartId: number, padId: number): TrainObjective {
  return {
    name,
    checkArch: (arch) => requireSeq2Seq(arch, name),
    buildTrainGraph(arch, config, store, o) {
      requireSeq2Seq(arch, name);
      const g = new Graph(`t5-${name}-train-${o.variant}`);
      const vb = builder(o, g, store);
      const loss = seq2seqLoss(g, vb, config as T5Config, o.batch, o.seqLen);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph(arch, config, store, o) {
      requireSeq2Seq(arch, name);
      const g = new Graph(`t5-${name}-loss`);
      g.setOutputs({ loss: seq2seqLoss(g, builder(o, g, store), config as T5Config, o.batch, o.seqLen) });
      return g;
    },
    createBatchFeeds(batch, seqLen) {
      const n = batch * seqLen;
      const shape = [batch, seqLen];
      const enc = new BigInt64Array(n);
      const mask = new BigInt64Array(n);
      const dec = new BigInt64Array(n);
      const targets = new BigInt64Array(n);
      return {
        feeds: {
          input_ids: { dtype: 'int64', shape, data: enc },
          attention_mask: { dtype: 'int64', shape, data: mask },
          decoder_input_ids: { dtype: 'int64', shape, data: dec },
          targets: { dtype: 'int64', shape, data: targets },
        },
        fill(bt) {
          if (!bt.prefixLengths) throw new SlmError('INVALID_ARGUMENT', `objective ${name}: the batch has no prefix lengths (use an input/target or denoising batch source)`);
          return splitRows(bt.inputs, bt.targets, bt.prefixLengths, seqLen, { decoderStartId, padId }, { enc, mask, dec, targets });
        },
      };
    },
  };
}

/** Prefix-LM rows -> encoder ids/mask, decoder inputs/targets (see the header). Returns the loss-carrying count. */
export function splitRows(
  inputs: Int32Array,
  targets: Int32Array,
  prefixLengths: Int32Array,
  S: number,
  ids: { decoderStartId: number; padId: number },
  out: { enc: BigInt64Array; mask: BigInt64Array; dec: BigInt64Array; targets: BigInt64Array },
): number {
  let count = 0;
  for (let r = 0; r < prefixLengths.length; r++) {
    const P = prefixLengths[r]!;
    const at = r * S;
    for (let j = 0; j < S; j++) {
      const inEnc = j < P;
      out.enc[at + j] = BigInt(inEnc ? inputs[at + j]! : ids.padId);
      out.mask[at + j] = inEnc ? 1n : 0n;
      const src = P - 1 + j; // the row position whose target is decoder target j
      const t = src < S ? targets[at + src]! : IGNORE_INDEX;
      out.targets[at + j] = BigInt(t);
      if (t !== IGNORE_INDEX) count++;
      out.dec[at + j] = BigInt(j === 0 ? ids.decoderStartId : src < S && t !== IGNORE_INDEX ? inputs[at + src]! : ids.padId);
    }
  }
  return count;
}
