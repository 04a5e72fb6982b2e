// The FLAME training recipe as an `slm train` configuration: a T5 from scratch (seq2seq objective
// over the {input, target} pairs dataset.ts writes), sized for a shared CPU. FLAME's model is a
// 60M-parameter T5-small; the presets here are far smaller because a few CPU minutes is the budget
// on this machine (parameter counts below are with the 2048-token formula vocabulary).
import { join } from 'node:path';
import { SlmError } from '../../errors.ts';

/** HF T5 config.json keys; relu FFN and tied embeddings as the original T5. */
export const FLAME_SIZES = {
  // ~1.6M parameters: 3+3 layers, d_model 128.
  tiny: { model_type: 't5', d_model: 128, d_kv: 32, num_heads: 4, d_ff: 512, num_layers: 3, num_decoder_layers: 3, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'relu', tie_word_embeddings: true, dropout_rate: 0 },
  // ~8M parameters: 4+4 layers, d_model 256.
  small: { model_type: 't5', d_model: 256, d_kv: 32, num_heads: 8, d_ff: 1024, num_layers: 4, num_decoder_layers: 4, relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'relu', tie_word_embeddings: true, dropout_rate: 0 },
} as const;
export type FlameSize = keyof typeof FLAME_SIZES;

export interface FlameTrainOptions {
  /** A folder written by buildFlameData (train.jsonl, tokenizer/, tokenizer-plain/). */
  data: string;
  out: string;
  size?: FlameSize;
  /** Use tokenizer-plain/ (GPT-2 pre-tokenization), the ablation of the formula tokenizer. */
  plainBpe?: boolean;
  steps?: number;
  batchSize?: number;
  /** Tokens per row: input + target + EOS must fit (buildFlameData's maxTokens). */
  seqLen?: number;
  lr?: number;
  threads?: number;
  seed?: number;
}

/** The raw train config (validated later by parseTrainConfig, which names bad keys). */
export function flameTrainConfig(o: FlameTrainOptions): Record<string, unknown> {
  const size = o.size ?? 'tiny';
  if (!(size in FLAME_SIZES)) throw new SlmError('INVALID_ARGUMENT', `flame train: size ${JSON.stringify(size)} is not one of ${Object.keys(FLAME_SIZES).join(', ')}`);
  const steps = o.steps ?? 600;
  return {
    init: { ...FLAME_SIZES[size] },
    tokenizer: join(o.data, o.plainBpe ? 'tokenizer-plain' : 'tokenizer'),
    data: [join(o.data, 'train.jsonl')],
    out: o.out,
    objective: 'seq2seq',
    steps,
    batchSize: o.batchSize ?? 32,
    seqLen: o.seqLen ?? 96,
    // A tiny model from scratch tolerates (and needs) a high peak rate over so few steps.
    lr: o.lr ?? 2e-3,
    warmupSteps: Math.max(1, Math.round(steps * 0.05)),
    evalEvery: 100,
    evalBatches: 4,
    checkpointEvery: 100,
    heldOut: 256,
    seed: o.seed ?? 1,
    ...(o.threads ? { threads: o.threads } : {}),
  };
}
