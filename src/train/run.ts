// A whole training run from a validated TrainConfig: tokenizer, model (fine-tune a folder or
// initialise from an architecture config), data (tokenize once, held-out split, packing),
// optional LoRA, the Trainer, and the outputs in `out`:
//   config.json, model.safetensors, generation_config.json, tokenizer files   (full training)
//   adapter_config.json, adapter_model.safetensors, tokenizer files           (LoRA)
//   checkpoint-<step>/, metrics.jsonl, loss.svg
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelArch } from '../models/causal-lm.ts';
import { modelArch } from '../models/registry.ts';
import { isMaskedLMArch, listEncoderWeights } from '../models/roberta.ts';
import { isSeq2SeqArch } from '../models/t5.ts';
import { CheckpointStore } from '../models/checkpoint-store.ts';
import { openModelFolder } from '../formats/model-folder.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { randomWeights } from '../nn/init-store.ts';
import { weightShapesOf } from '../models/save.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import { PackedRows, loadTokenizedCorpus, numDocuments, splitDocuments } from '../data/index.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { FormatError, SlmError } from '../errors.ts';
import { resolvedSchedule, trajectoryConfig, type TrainConfig } from './config.ts';
import { Trainer, type CheckpointLayout, type TrainResult } from './trainer.ts';
import { cleanStaleCheckpointTemps, latestCheckpoint, listCheckpoints } from './checkpoint.ts';
import { checkOutputDir, outputError } from './output-dir.ts';
import { textFileWarnings } from '../data/text-check.ts';
import { readMetrics, type StepMetrics } from './metrics.ts';
import { lossCurveSvg } from './svg.ts';
import { singleDocumentWarning } from './held-out-notice.ts';
import { writeHfModelFolder, writeTokenizerFiles } from './hf-output.ts';
import { checkObjectiveArch, objectiveData, objectiveTokens, seq2seqObjectiveData, streamBos } from './objectives/index.ts';
import { resizedVocabStore } from './resize-vocab.ts';
import { requireDecoder } from './objective.ts';
import { runClassificationTraining, type ClassificationRunResult } from './classification-run.ts';
import { ADAPTER_WEIGHTS_FILE, OverlayStore, PEFT_PREFIX, adapterConfigJson, initLoraWeights, isLoraWeight, loraAdapter, loraTargets, savePeftAdapter, type LoraConfig } from './lora.ts';
import { chatReadOptions } from './chat-data.ts';
import { distillObjective } from './objectives/distill.ts';
import { loadLocalTeacher, type LocalTeacher } from './distill-local-teacher.ts';

export interface RunTrainingIO {
  signal?: AbortSignal;
  /** Log lines (stderr in the CLI). */
  log?: (msg: string) => void;
  /** Where the progress bar goes (drawn only on a TTY). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  onStep?: (m: StepMetrics) => void;
  /** Test hook: called after each checkpoint file is written into the temp folder. */
  onCheckpointFile?: (file: string) => void | Promise<void>;
  /** Measure without preallocated outputs (default: preallocate). */
  preallocate?: boolean;
}

export interface RunTrainingResult extends Omit<TrainResult, 'losses'> {
  out: string;
  modelType: string;
  parameters: number;
  trainableParameters: number;
  trainTokens: number;
  heldOutDocuments: number;
  resumedFrom?: string;
  losses: number[];
}

async function readInit(init: string | Record<string, unknown>): Promise<{ json: Record<string, unknown>; file: string }> {
  if (typeof init !== 'string') return { json: { ...init }, file: 'init' };
  try {
    return { json: JSON.parse(readFileSync(init, 'utf8')), file: init };
  } catch (e) {
    throw new FormatError(init, undefined, `cannot read the architecture config: ${(e as Error).message}`);
  }
}

/** Every checkpoint tensor of the architecture with its shape. */
function weightShapes(arch: ModelArch<unknown>, config: unknown): Map<string, number[]> {
  return isMaskedLMArch(arch) ? listEncoderWeights(arch, config) : weightShapesOf(arch, config);
}

export async function runTraining(cfg: TrainConfig, io: RunTrainingIO = {}): Promise<RunTrainingResult> {
  if (cfg.objective === 'classification') return classificationAsRunResult(await runClassificationTraining(cfg, io), cfg);
  const log = io.log ?? (() => {});
  // The output folder is checked (and a killed run's leftovers recovered or removed) before
  // anything else, so a bad --out fails in a second with its path named.
  checkOutputDir(cfg.out);
  const leftovers = cleanStaleCheckpointTemps(cfg.out);
  if (leftovers.restored) log(`restored checkpoint(s) an interrupted replacement had moved aside: ${leftovers.restored.join(', ')}`);
  if (leftovers.length) log(`removed ${leftovers.length} incomplete file(s)/folder(s) left by an interrupted run: ${leftovers.join(', ')}`);
  for (const w of textFileWarnings(typeof cfg.data === 'string' ? [cfg.data] : cfg.data)) log(`warning: ${w}`);
  const tokPath = cfg.tokenizer ?? cfg.model!;
  const defaultType = cfg.objective === 'mlm' ? 'roberta' : cfg.objective === 'seq2seq' ? 't5' : 'llama';
  // Objective vs architecture first: a mismatch is reported before tokens or weights matter.
  const declaredType = cfg.model ? (await openModelFolder(cfg.model)).modelType : (await readInit(cfg.init!)).json.model_type ?? defaultType;
  checkObjectiveArch(cfg.objective, modelArch(declaredType, cfg.model ? join(cfg.model, 'config.json') : 'init'));
  // The objective's special tokens (mode tokens, sentinels, mask): added to the tokenizer when
  // missing; a fine-tuned model's vocabulary then grows to match (below).
  const tokens = objectiveTokens(cfg, await loadTokenizer(tokPath), { add: true, source: tokPath });
  const tok = tokens.tok;
  if (tokens.added.length) log(`added ${tokens.added.length} special token(s) to the tokenizer for objective ${cfg.objective}: ${tokens.added.slice(0, 5).join(' ')}${tokens.added.length > 5 ? ' ...' : ''}`);

  // ---- model
  let arch: ModelArch<unknown>;
  let config: unknown;
  let base: WeightStore;
  let checkpoint: Checkpoint | undefined;
  if (cfg.model) {
    const folder = await openModelFolder(cfg.model);
    arch = modelArch(folder.modelType, join(cfg.model, 'config.json'));
    const configFile = join(cfg.model, 'config.json');
    config = arch.parseConfig(folder.config, configFile);
    checkpoint = await folder.openWeights();
    base = new CheckpointStore(checkpoint);
    if (tokens.added.length && tok.vocabSize > arch.vocabSize(config)) {
      if (cfg.lora) {
        throw new SlmError('INVALID_ARGUMENT', `${cfg.model}: objective ${cfg.objective} adds ${tokens.added.length} token(s) the model has no embedding rows for, and LoRA keeps the embeddings frozen; train without lora (or use a tokenizer that has the tokens)`);
      }
      const grown = arch.parseConfig({ ...folder.config, vocab_size: tok.vocabSize }, configFile);
      base = resizedVocabStore(base, weightShapes(arch, config), weightShapes(arch, grown));
      log(`vocabulary ${arch.vocabSize(config)} -> ${tok.vocabSize}: new embedding rows start at the mean of the existing rows`);
      config = grown;
    }
  } else {
    const { json, file } = await readInit(cfg.init!);
    json.vocab_size ??= tok.vocabSize;
    json.bos_token_id ??= tok.bosId ?? null;
    json.eos_token_id ??= tok.eosId ?? null;
    arch = modelArch(json.model_type ?? defaultType, file);
    if (isMaskedLMArch(arch)) json.pad_token_id ??= tok.padId ?? tok.tokenToId('<pad>');
    // T5 decodes from <pad> (HF's T5 configs: decoder_start_token_id = pad_token_id = 0).
    if (isSeq2SeqArch(arch)) json.decoder_start_token_id ??= json.pad_token_id ??= tok.padId ?? 0;
    config = arch.parseConfig(json, file);
    base = randomWeights(weightShapes(arch, config), cfg.seed, cfg.initStd);
  }
  try {
    if (tok.vocabSize > arch.vocabSize(config)) {
      throw new SlmError('INVALID_ARGUMENT', `the tokenizer has ${tok.vocabSize} tokens but the model's vocab_size is ${arch.vocabSize(config)}`);
    }
    const eosId = tok.eosId;
    if (eosId === undefined) throw new SlmError('INVALID_ARGUMENT', `${tokPath}: the tokenizer has no EOS token (needed between packed documents)`);

    // ---- data
    let teacher: LocalTeacher | undefined;
    // Input/target pairs (seq2seq) are rows of their own; everything else packs a text corpus.
    const corpusData = async () => {
      // Chat records render through the template and split by lossOn: both are part of the cache key.
      const chat = chatReadOptions(cfg.lossOn, tok);
      const tokenizerId = createHash('sha256').update(JSON.stringify(tok.json)).update(`\0chat:${cfg.lossOn}:${tok.chatTemplate ?? 'chatml'}`).digest('hex');
      const data = await loadTokenizedCorpus(typeof cfg.data === 'string' ? [cfg.data] : cfg.data, {
        encode: (t) => tok.encode(t, { addSpecialTokens: false }),
        tokenizerId,
        chat,
        documentSeparator: cfg.documentSeparator,
        cacheDir: cfg.tokenCacheDir,
        signal: io.signal,
      });
      log(`data: ${data.files.length} file(s), ${numDocuments(data.corpus)} documents, ${data.corpus.tokens.length} tokens${data.cacheHit ? ' (cached)' : ''}`);
      // One document cannot be split into train and held-out: say so (and why) instead of failing or evaluating nothing.
      const oneDocument = numDocuments(data.corpus) < 2 && cfg.evalEvery > 0 && cfg.heldOut > 0;
      if (oneDocument) log(singleDocumentWarning(data.files, numDocuments(data.corpus), cfg.documentSeparator));
      const split = splitDocuments(numDocuments(data.corpus), oneDocument ? 0 : cfg.heldOut, cfg.seed);
      const pack = { seqLen: cfg.seqLen, eosId, bosId: streamBos(cfg, tokens), seed: cfg.seed };
      const trainRows = new PackedRows(data.corpus, { ...pack, documents: split.train });
      let heldOut: PackedRows | undefined;
      if (split.heldOut.length > 0) {
        try {
          heldOut = new PackedRows(data.corpus, { ...pack, documents: split.heldOut, shuffle: false });
        } catch (e) {
          log(`evaluation off: the held-out documents are too short for one row (${(e as Error).message})`);
        }
      }
      const objective = objectiveData(cfg, arch, config, tokens, eosId, { train: trainRows, heldOut });
      return { objective, trainTokens: trainRows.streamLength, heldOutDocuments: split.heldOut.length };
    };
    const { objective, trainTokens, heldOutDocuments } = cfg.objective === 'seq2seq' ? seq2seqObjectiveData(cfg, tok, arch, config, eosId, log) : await corpusData();
    // Distillation: the same rows, the teacher's distribution as the soft target.
    if (cfg.objective === 'distill') {
      const d = cfg.distill!;
      teacher = await loadLocalTeacher(d.teacher, { context: cfg.seqLen, threads: cfg.threads });
      log(`distill: teacher ${d.teacher}, T=${d.temperature}, alpha=${d.alpha}${d.topK ? `, top-${d.topK} (${d.remainder})` : ''}`);
      objective.objective = distillObjective({ teacher: teacher.logits, vocabSize: teacher.vocabSize, seqLen: cfg.seqLen, temperature: d.temperature, alpha: d.alpha, topK: d.topK, remainder: d.remainder });
    }

    // ---- what trains
    let store: WeightStore = base;
    let trainable: ((n: string) => boolean) | undefined;
    let adapters: { train: ReturnType<typeof loraAdapter>; eval: ReturnType<typeof loraAdapter>; dropout: number } | undefined;
    let layout: CheckpointLayout;
    // Every checkpoint carries the tokenizer too, so checkpoint-<step>/ loads as a model folder.
    const writeExtra = (dir: string) => void writeTokenizerFiles(dir, tokens.added.length ? undefined : tokPath, tok);
    const lora: LoraConfig | undefined = cfg.lora ? { r: cfg.lora.r, alpha: cfg.lora.alpha, dropout: cfg.lora.dropout, targetModules: cfg.lora.targetModules } : undefined;
    if (lora) {
      const targets = loraTargets(requireDecoder(arch, cfg.objective), config, lora);
      store = new OverlayStore([initLoraWeights(targets, lora, cfg.seed), base]);
      trainable = isLoraWeight;
      adapters = { train: loraAdapter(lora, { dropoutMasks: true }), eval: loraAdapter(lora), dropout: lora.dropout };
      layout = {
        weightsFile: ADAPTER_WEIGHTS_FILE,
        toFileName: (n) => PEFT_PREFIX + n,
        toGraphName: (n) => n.replace(/^base_model\.model\./, ''),
        json: { 'adapter_config.json': adapterConfigJson(lora, cfg.model) },
        writeExtra,
      };
      log(`LoRA r=${lora.r} alpha=${lora.alpha} on ${targets.length} layers (${[...new Set(targets.map((t) => t.module.split('.').at(-1)))].join(', ')})`);
    } else {
      layout = { weightsFile: 'model.safetensors', json: { 'config.json': arch.toHfConfig(config) }, writeExtra };
    }

    // ---- resume
    let resumeFrom: string | undefined;
    if (cfg.resume === true) {
      resumeFrom = latestCheckpoint(cfg.out);
      if (!resumeFrom) log(`no checkpoint in ${cfg.out}; starting from step 0`);
    } else if (typeof cfg.resume === 'string') {
      resumeFrom = cfg.resume;
    } else if (listCheckpoints(cfg.out).length > 0) {
      throw new SlmError('INVALID_ARGUMENT', `${cfg.out} already holds checkpoints; pass --resume to continue that run, or choose another out folder`);
    }

    const trainer = await Trainer.create({
      arch,
      config,
      store,
      trainable,
      adapters,
      objective: objective.objective,
      train: objective.train,
      heldOut: objective.heldOut,
      ...trainerRunOptions(cfg, io),
      layout,
      resumeFrom,
    });
    let result: TrainResult;
    try {
      result = await trainer.run();
      const weights = trainer.weights();
      if (result.stopped === 'completed') {
        try {
          if (lora) await savePeftAdapter(cfg.out, lora, cfg.model, weights);
          else await writeHfModelFolder(cfg.out, { arch, config, weights, bosTokenId: tok.bosId, eosTokenId: eosId, padTokenId: tok.padId });
          // With added special tokens the source files are stale: write the extended tokenizer.
          writeTokenizerFiles(cfg.out, tokens.added.length ? undefined : tokPath, tok);
        } catch (e) {
          throw outputError(e, cfg.out, 'the final model', result.checkpoint ? `${result.checkpoint} holds the trained weights: fix the folder and run again with --resume` : undefined);
        }
      }
    } finally {
      await trainer.dispose();
      await teacher?.dispose();
    }
    writeFileAtomic(join(cfg.out, 'loss.svg'), lossCurveSvg(readMetrics(join(cfg.out, 'metrics.jsonl')), `${arch.modelType} ${lora ? 'LoRA ' : ''}training loss`));
    const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const all = weightShapes(arch, config);
    return {
      ...result,
      out: cfg.out,
      modelType: arch.modelType,
      parameters: [...all.values()].reduce((a, s) => a + numel(s), 0),
      trainableParameters: trainer.buffers.weights.reduce((a, w) => a + numel(w.shape), 0),
      trainTokens,
      heldOutDocuments,
      resumedFrom: resumeFrom,
    };
  } finally {
    await checkpoint?.close();
  }
}

/** The common result shape for a classification run (its metrics are in result.heldOut and metrics.jsonl). */
function classificationAsRunResult(r: ClassificationRunResult, cfg: TrainConfig): RunTrainingResult {
  const last = readMetrics(join(cfg.out, 'metrics.jsonl')).filter((m) => typeof m.loss === 'number').at(-1);
  return {
    out: r.out,
    modelType: r.modelType,
    step: r.step,
    stopped: r.stopped,
    loss: last?.loss ?? NaN,
    evalLoss: last?.eval_loss,
    tokensPerSecond: last?.tokens_per_second ?? NaN,
    stepSeconds: NaN,
    parameters: r.parameters,
    trainableParameters: r.trainableParameters,
    trainTokens: 0,
    heldOutDocuments: r.heldOutExamples,
    losses: [],
    classification: r,
  } as unknown as RunTrainingResult;
}

/** The Trainer options every objective takes straight from the run config and the caller. */
export function trainerRunOptions(cfg: TrainConfig, io: RunTrainingIO) {
  return {
    batchSize: cfg.batchSize,
    seqLen: cfg.seqLen,
    gradAccum: cfg.gradAccum,
    dtype: cfg.dtype,
    steps: cfg.steps,
    schedule: resolvedSchedule(cfg),
    adamw: { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay },
    clipNorm: cfg.clipNorm,
    evalEvery: cfg.evalEvery,
    evalBatches: cfg.evalBatches,
    checkpointEvery: cfg.checkpointEvery,
    keepCheckpoints: cfg.keepCheckpoints,
    outDir: cfg.out,
    seed: cfg.seed,
    threads: cfg.threads,
    cacheDir: cfg.onnxCacheDir,
    preallocate: io.preallocate,
    runConfig: trajectoryConfig(cfg),
    signal: io.signal,
    progress: cfg.progress === false ? (false as const) : io.progressStream,
    log: io.log,
    onStep: io.onStep,
    onCheckpointFile: io.onCheckpointFile,
  };
}
