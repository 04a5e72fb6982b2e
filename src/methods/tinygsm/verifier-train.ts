// Training a TinyGSM verifier: start from a decoder folder (the paper initializes the verifier
// from the same-size SLM), add the scalar head (normal(0, 0.02) weight, zero bias), and train
// ALL weights with the per-token BCE objective (verifier.ts) through the ordinary Trainer, so
// schedules, checkpoints, resume, metrics.jsonl and held-out loss work as for `slm train`.
// The output folder is the trunk's config.json with a `slmkit_verifier` entry, the trunk plus
// head weights, and the tokenizer; verifier-score.ts loads it.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { openModelFolder } from '../../formats/model-folder.ts';
import { CheckpointStore } from '../../models/checkpoint-store.ts';
import { causalLMArch } from '../../models/registry.ts';
import { randomWeights } from '../../nn/init-store.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';
import { splitDocuments } from '../../data/split.ts';
import { SlmError } from '../../errors.ts';
import { parseTrainConfig, type TrainConfigInput } from '../../train/config.ts';
import { Trainer } from '../../train/trainer.ts';
import { latestCheckpoint, listCheckpoints } from '../../train/checkpoint.ts';
import { OverlayStore } from '../../train/lora.ts';
import { writeHfModelFolder, writeTokenizerFiles } from '../../train/hf-output.ts';
import { trainerRunOptions, type RunTrainingIO } from '../../train/run.ts';
import { VERIFIER_HEAD, VerifierBatches, encodeVerifierExamples, verifierEvalRows, verifierHeadShapes, verifierObjective, type VerifierExample } from './verifier.ts';

export interface VerifierTrainOptions {
  /** Decoder folder the verifier starts from (trunk weights, tokenizer). */
  model: string;
  examples: readonly VerifierExample[];
  out: string;
  steps?: number;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  seed?: number;
  /** Held-out fraction (< 1) or count of examples for the held-out loss. Default 0.05. */
  heldOut?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  threads?: number;
  resume?: boolean;
  /** Extra `slm train` config keys (warmupSteps, weightDecay, ...). */
  train?: Partial<TrainConfigInput>;
}

export interface VerifierTrainResult {
  out: string;
  step: number;
  stopped: 'completed' | 'aborted';
  trainExamples: number;
  heldOutExamples: number;
  positives: number;
  dropped: number;
  firstLoss: number;
  lastLoss: number;
  evalLoss?: number;
}

/** What config.json carries for a verifier folder. */
export interface VerifierMeta {
  head: string;
  seq_len: number;
  /** The decoder it was initialized from. */
  init: string;
}

export async function trainVerifier(o: VerifierTrainOptions, io: RunTrainingIO = {}): Promise<VerifierTrainResult> {
  const log = io.log ?? (() => {});
  const cfg = parseTrainConfig(
    {
      evalEvery: 50,
      checkpointEvery: 0,
      ...o.train,
      model: o.model,
      data: o.model, // not read: the examples come in memory; the schema wants a value
      out: o.out,
      steps: o.steps ?? 200,
      batchSize: o.batchSize ?? 8,
      seqLen: o.seqLen ?? 256,
      lr: o.lr ?? 1e-4,
      seed: o.seed ?? 0,
      heldOut: o.heldOut ?? 0.05,
      ...(o.evalEvery !== undefined ? { evalEvery: o.evalEvery } : {}),
      ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      resume: o.resume ?? false,
    },
    'verifier training options',
  );
  const folder = await openModelFolder(o.model);
  const configFile = join(o.model, 'config.json');
  const arch = causalLMArch(folder.config.model_type, configFile);
  const config = arch.parseConfig(folder.config, configFile);
  const checkpoint = await folder.openWeights();
  try {
    const tok = await loadTokenizer(o.model);
    const eosId = tok.eosId;
    if (eosId === undefined) throw new SlmError('INVALID_ARGUMENT', `${o.model}: the tokenizer has no EOS token (the verifier reads its score at the EOS closing each candidate)`);
    const enc = { encode: (t: string) => tok.encode(t, { addSpecialTokens: false }), bosId: tok.bosId, eosId };
    const split = splitDocuments(o.examples.length, cfg.heldOut, cfg.seed);
    const pick = (idx: ArrayLike<number>) => Array.from(idx, (i) => o.examples[i]!);
    const train = encodeVerifierExamples(pick(split.train), enc, cfg.seqLen);
    const held = encodeVerifierExamples(pick(split.heldOut), enc, cfg.seqLen);
    const dropped = train.dropped + held.dropped;
    if (dropped) log(`verifier: ${dropped} example(s) longer than seqLen ${cfg.seqLen} dropped`);
    const positives = train.labels.filter((l) => l === 1).length;
    log(`verifier: ${train.rows.length} training examples (${positives} correct), ${held.rows.length} held out`);
    if (positives === 0 || positives === train.rows.length) log('warning: every training label is the same; the verifier cannot learn to rank');

    const head = verifierHeadShapes(arch.hiddenSize(config));
    const base = new CheckpointStore(checkpoint);
    const existing = [...head.keys()].every((n) => base.shape(n));
    const store = existing ? base : new OverlayStore([randomWeights(head, cfg.seed, 0.02), base]);
    let resumeFrom: string | undefined;
    if (cfg.resume === true) resumeFrom = latestCheckpoint(cfg.out);
    else if (listCheckpoints(cfg.out).length > 0) throw new SlmError('INVALID_ARGUMENT', `${cfg.out} already holds checkpoints; pass resume to continue that run, or choose another out folder`);
    const padId = eosId;
    const meta: VerifierMeta = { head: VERIFIER_HEAD, seq_len: cfg.seqLen, init: o.model };
    const hfConfig = { ...arch.toHfConfig(config), slmkit_verifier: meta };
    const losses: number[] = [];
    const trainer = await Trainer.create({
      arch,
      config,
      store,
      objective: verifierObjective,
      train: new VerifierBatches(train, cfg.batchSize, cfg.seqLen, padId, cfg.seed),
      heldOut: held.rows.length ? verifierEvalRows(held, cfg.seqLen, padId) : undefined,
      ...trainerRunOptions(cfg, { ...io, onStep: (m) => (losses.push(m.loss), io.onStep?.(m)) }),
      layout: { weightsFile: 'model.safetensors', json: { 'config.json': hfConfig } },
      resumeFrom,
    });
    let result;
    try {
      result = await trainer.run();
      if (result.stopped === 'completed') {
        await writeHfModelFolder(cfg.out, { arch, config, weights: trainer.weights(), bosTokenId: tok.bosId, eosTokenId: eosId });
        // writeHfModelFolder writes the plain decoder config; mark the folder as a verifier.
        const written = JSON.parse(readFileSync(join(cfg.out, 'config.json'), 'utf8'));
        writeFileAtomic(join(cfg.out, 'config.json'), JSON.stringify({ ...written, slmkit_verifier: meta }, null, 2) + '\n');
        writeTokenizerFiles(cfg.out, o.model, tok);
      }
    } finally {
      await trainer.dispose();
    }
    return {
      out: cfg.out,
      step: result.step,
      stopped: result.stopped,
      trainExamples: train.rows.length,
      heldOutExamples: held.rows.length,
      positives,
      dropped,
      firstLoss: losses[0] ?? NaN,
      lastLoss: result.loss,
      evalLoss: result.evalLoss,
    };
  } finally {
    await checkpoint.close();
  }
}
