// From a run config to an objective: its special tokens, its training batch source and its
// held-out rows. run.ts calls objectiveTokens before building the model (added tokens change
// vocab_size) and objectiveData once the data is packed.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HfTokenizer } from '../../tokenizer/hf-tokenizer.ts';
import type { ModelArch } from '../../models/causal-lm.ts';
import type { MaskedLMArch } from '../../models/roberta.ts';
import type { PackedRows } from '../../data/packing.ts';
import { BatchIterator } from '../../data/packing.ts';
import { TransformedBatches, transformedEvalRows, type RowTransform } from '../../data/row-transform.ts';
import { prefixLMRowTransform, sentinelsNeeded, spanCorruptionVariant, ul2Variant, type DenoisingTask } from '../../data/denoising-rows.ts';
import { mlmRowTransform } from '../../data/mlm-rows.ts';
import { UL2_DENOISERS, type Ul2Denoiser, type Ul2Mode } from '../../data/ul2.ts';
import type { TrainConfig } from '../config.ts';
import { causalLMObjective, packedEvalRows, type BatchSource, type EvalRows, type TrainObjective } from '../objective.ts';
import { spanCorruptionObjective, ul2rObjective } from './prefix-lm.ts';
import { mlmObjective } from './mlm.ts';
import { isSeq2SeqArch, type T5Config } from '../../models/t5.ts';
import { Seq2SeqBatches, readSeq2SeqJsonl, seq2seqEvalRows } from '../../data/seq2seq-rows.ts';
import { splitDocuments } from '../../data/index.ts';
import { encoderDecoderObjective } from './encoder-decoder.ts';
import { MODE_TOKEN_NAMES, maskTokenName, resolveTokens, sentinelToken, type ResolvedTokens } from './special-tokens.ts';

export { prefixLMObjective, ul2rObjective, spanCorruptionObjective } from './prefix-lm.ts';
export { mlmObjective } from './mlm.ts';
export { resolveTokens, sentinelToken, MODE_TOKEN_NAMES } from './special-tokens.ts';

/** The UL2R mixture of a config: R split evenly over its 2 settings, X over its 4, one S. */
export function ul2rDenoisers(c: TrainConfig['ul2r']): Ul2Denoiser[] {
  const mix = c?.mixture ?? { S: 0.5, R: 0.25, X: 0.25 };
  const sVariant = c?.sDenoiser ?? 'suffix-25';
  const per = { R: mix.R / 2, X: mix.X / 4 };
  const out: Ul2Denoiser[] = [];
  for (const d of UL2_DENOISERS) {
    if (d.mode === 'S') out.push(sVariant === 'suffix-25' ? { mode: 'S', suffixRate: 0.25, weight: mix.S } : { mode: 'S', suffixRate: 0.5, randomSplit: true, weight: mix.S });
    else out.push({ ...d, weight: per[d.mode] });
  }
  return out.filter((d) => d.weight > 0);
}

function denoisingTask(cfg: TrainConfig, ids: { sentinels: number[]; modes: Record<Ul2Mode, number> }): DenoisingTask {
  if (cfg.objective === 'ul2r') {
    const ds = ul2rDenoisers(cfg.ul2r);
    return { variants: ds.map((d) => ul2Variant(d, { sentinelIds: ids.sentinels, modeTokenIds: ids.modes })), weights: ds.map((d) => d.weight) };
  }
  const sc = cfg.spanCorruption ?? { noiseDensity: 0.15, meanSpanLength: 3 };
  return { variants: [spanCorruptionVariant({ ...sc, sentinelIds: ids.sentinels })], weights: [1] };
}

/** Throws the typed error when `objective` cannot train `arch` (before anything is loaded). */
export function checkObjectiveArch(objective: TrainConfig['objective'], arch: ModelArch<unknown>): void {
  // On a T5, seq2seq / span-corruption / ul2r train the encoder-decoder (encoder-decoder.ts).
  if (objective === 'seq2seq' || (isSeq2SeqArch(arch) && (objective === 'ul2r' || objective === 'span-corruption'))) return encoderDecoderObjective(objective, 0, 0).checkArch(arch);
  // classification checks its encoder in classification-run.ts (mlm's check is the same rule)
  const o = { 'causal-lm': causalLMObjective, distill: causalLMObjective, ul2r: ul2rObjective, 'span-corruption': spanCorruptionObjective, mlm: mlmObjective(0), classification: mlmObjective(0) }[objective];
  o.checkArch(arch);
}

export interface ObjectiveTokens extends ResolvedTokens {
  /** BOS leading every row / document (from addBos or the tokenizer's add_bos_token). */
  bosId: number | undefined;
}

/**
 * Resolves (or, when `add`, adds) the tokens the objective needs. Sentinel counts depend on
 * seqLen, so they are known here, before the model exists.
 */
export function objectiveTokens(cfg: TrainConfig, tok: HfTokenizer, o: { add: boolean; source: string }): ObjectiveTokens {
  const bosId = (cfg.addBos ?? tok.addBos) ? tok.bosId : undefined;
  const names: string[] = [];
  if (cfg.objective === 'ul2r' || cfg.objective === 'span-corruption') {
    const eos = tok.eosId ?? 0;
    const task = denoisingTask(cfg, { sentinels: [], modes: { R: 0, S: 0, X: 0 } });
    const n = sentinelsNeeded(task, { seqLen: cfg.seqLen, eosId: eos, bosId, padId: eos });
    if (cfg.objective === 'ul2r') names.push(...Object.values(MODE_TOKEN_NAMES));
    for (let i = 0; i < n; i++) names.push(sentinelToken(i));
  } else if (cfg.objective === 'mlm') {
    names.push(maskTokenName(tok));
    if (tok.padId === undefined) names.push('<pad>');
  }
  const r = resolveTokens(tok, names, { add: o.add, why: `objective ${cfg.objective}`, source: o.source });
  return { ...r, bosId };
}

export interface ObjectiveData {
  objective: TrainObjective;
  train: BatchSource;
  heldOut?: EvalRows;
}

/** Whether documents in the packed stream get a BOS each (only plain causal LM rows). */
export function streamBos(cfg: TrainConfig, t: ObjectiveTokens): number | undefined {
  return cfg.objective === 'causal-lm' || cfg.objective === 'distill' ? t.bosId : undefined;
}

/** The objective over packed train (and held-out) rows. */
export function objectiveData(cfg: TrainConfig, arch: ModelArch<unknown>, config: unknown, t: ObjectiveTokens, eosId: number, rows: { train: PackedRows; heldOut?: PackedRows }): ObjectiveData {
  // distill trains on the same rows; run.ts swaps in the distill objective once the teacher is loaded.
  if (cfg.objective === 'causal-lm' || cfg.objective === 'distill') {
    causalLMObjective.checkArch(arch);
    return { objective: causalLMObjective, train: new BatchIterator(rows.train, cfg.batchSize), heldOut: rows.heldOut && packedEvalRows(rows.heldOut) };
  }
  let objective: TrainObjective;
  let transform: RowTransform;
  if (cfg.objective === 'mlm') {
    mlmObjective(0).checkArch(arch); // the typed error for a decoder
    const a = arch as MaskedLMArch<unknown>;
    const padId = a.padTokenId(config);
    objective = mlmObjective(padId, (ids, rows, seq) => a.positionIds(ids, rows, seq, config));
    const maskId = t.id(maskTokenName(t.tok));
    const specials = [eosId, maskId, padId, ...(t.bosId !== undefined ? [t.bosId] : [])];
    for (let id = 0; id < t.tok.vocabSize; id++) if (t.tok.isSpecial(id)) specials.push(id);
    const m = cfg.mlm ?? { maskProbability: 0.15, maskShare: 0.8, randomShare: 0.1 };
    transform = mlmRowTransform({ seqLen: cfg.seqLen, maskId, vocabSize: Math.min(t.tok.vocabSize, a.vocabSize(config)), bosId: t.bosId, specialIds: specials, ...m });
  } else {
    objective = isSeq2SeqArch(arch) ? t5Objective(cfg.objective, config) : cfg.objective === 'ul2r' ? ul2rObjective : spanCorruptionObjective;
    objective.checkArch(arch);
    const rowOpts = { seqLen: cfg.seqLen, eosId, bosId: t.bosId, padId: eosId };
    const count = sentinelsNeeded(denoisingTask(cfg, { sentinels: [], modes: { R: 0, S: 0, X: 0 } }), rowOpts);
    const ul2r = cfg.objective === 'ul2r';
    const ids = {
      sentinels: Array.from({ length: count }, (_, i) => t.id(sentinelToken(i))),
      // span-corruption has no mode token (its task never reads these)
      modes: ul2r ? { R: t.id(MODE_TOKEN_NAMES.R), S: t.id(MODE_TOKEN_NAMES.S), X: t.id(MODE_TOKEN_NAMES.X) } : { R: -1, S: -1, X: -1 },
    };
    transform = prefixLMRowTransform(denoisingTask(cfg, ids), rowOpts);
  }
  const stream = `objective-${cfg.objective}`;
  return {
    objective,
    train: new TransformedBatches(rows.train, cfg.batchSize, transform, cfg.seed, stream),
    heldOut: rows.heldOut && transformedEvalRows(rows.heldOut, transform, cfg.seed, stream),
  };
}

function t5Objective(name: string, config: unknown): TrainObjective {
  const c = config as T5Config;
  return encoderDecoderObjective(name, c.decoderStartTokenId, c.padTokenId);
}

function jsonlFiles(data: string | string[]): string[] {
  const out: string[] = [];
  for (const p of typeof data === 'string' ? [data] : data) {
    if (statSync(p).isDirectory()) out.push(...readdirSync(p).filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(p, n)));
    else out.push(p);
  }
  return out;
}

/** Objective seq2seq: JSONL input/target pairs (files or folders of .jsonl), a held-out split, shuffled rows. */
export function seq2seqObjectiveData(cfg: TrainConfig, tok: HfTokenizer, arch: ModelArch<unknown>, config: unknown, eosId: number, log: (m: string) => void): { objective: ObjectiveData; trainTokens: number; heldOutDocuments: number } {
  const objective = t5Objective('seq2seq', config);
  objective.checkArch(arch);
  const files = jsonlFiles(cfg.data);
  const examples = readSeq2SeqJsonl(files, (t) => tok.encode(t, { addSpecialTokens: false }), eosId, cfg.seqLen);
  const split = splitDocuments(examples.length, cfg.heldOut, cfg.seed);
  const pick = (ids: ArrayLike<number>) => Array.from(ids, (i) => examples[i]!);
  const train = pick(split.train);
  const heldOut = pick(split.heldOut);
  const padId = (config as T5Config).padTokenId;
  const trainTokens = train.reduce((a, e) => a + e.input.length + e.target.length, 0);
  log(`data: ${files.length} file(s), ${examples.length} input/target pairs (${heldOut.length} held out), ${trainTokens} training tokens`);
  return {
    objective: { objective, train: new Seq2SeqBatches(train, cfg.batchSize, cfg.seqLen, padId, cfg.seed), heldOut: heldOut.length ? seq2seqEvalRows(heldOut, cfg.seqLen, padId) : undefined },
    trainTokens,
    heldOutDocuments: heldOut.length,
  };
}
