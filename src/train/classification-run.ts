// `slm train --objective classification`: fine-tune (or train from an init config) a RoBERTa /
// BERT sequence classifier on labelled JSONL/CSV/TSV (text, text_pair?, label). The head is the
// checkpoint's when it has one (its id2label must match the labels), else created fresh
// (normal(0, 0.02), zero biases) for `labels` or the sorted labels of the data. The trainer runs
// as for every objective (checkpoints, resume, held-out loss); at the end the held-out accuracy,
// macro-F1 and MCC of the written model (and the majority-class accuracy to compare with) are
// appended to metrics.jsonl.
import { join } from 'node:path';
import { appendFileSync } from 'node:fs';
import { openModelFolder } from '../formats/model-folder.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { CheckpointStore } from '../models/checkpoint-store.ts';
import { encoderArch, loadEncoder } from '../models/encoder-model.ts';
import type { EncoderConfig } from '../models/encoder-config.ts';
import { EncoderInputs } from '../models/encoder-inputs.ts';
import { listEncoderTaskWeights } from '../models/encoder-heads.ts';
import { randomWeights } from '../nn/init-store.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { loadTokenizer } from '../tokenizer/index.ts';
import { readLabelledFile, type LabelledExample } from '../data/labelled.ts';
import { splitDocuments } from '../data/split.ts';
import { SlmError } from '../errors.ts';
import type { TrainConfig } from './config.ts';
import { Trainer } from './trainer.ts';
import { latestCheckpoint, listCheckpoints } from './checkpoint.ts';
import { writeHfModelFolder, writeTokenizerFiles } from './hf-output.ts';
import { ADAPTER_WEIGHTS_FILE, OverlayStore, PEFT_PREFIX, adapterConfigJson, initLoraWeights, isLoraWeight, loraAdapter, loraTargetsOf, savePeftAdapter, type LoraConfig } from './lora.ts';
import { ClassificationBatches, classificationEvalRows, classificationMetrics, classificationObjective, encodeExamples } from './objectives/classification.ts';
import { trainerRunOptions, type RunTrainingIO } from './run.ts';
import { buildEncoderTaskGraph } from '../models/encoder-heads.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { modulesToSave } from '../models/encoder-adapter.ts';

export interface ClassificationRunResult {
  out: string;
  modelType: string;
  step: number;
  stopped: 'completed' | 'aborted';
  labels: string[];
  trainExamples: number;
  heldOutExamples: number;
  /** Weights of the classifier (base + head, LoRA pairs excluded) and those trained. */
  parameters: number;
  trainableParameters: number;
  heldOut?: { accuracy: number; macro_f1: number; mcc: number; majority_accuracy: number };
}

export async function runClassificationTraining(cfg: TrainConfig & { labels?: string[] }, io: RunTrainingIO = {}): Promise<ClassificationRunResult> {
  const log = io.log ?? (() => {});
  const tokPath = cfg.tokenizer ?? cfg.model!;
  const tok = await loadTokenizer(tokPath);
  let checkpoint: Checkpoint | undefined;
  let json: Record<string, unknown>;
  let base: WeightStore | undefined;
  const file = cfg.model ? join(cfg.model, 'config.json') : typeof cfg.init === 'string' ? cfg.init : 'init';
  if (cfg.model) {
    const folder = await openModelFolder(cfg.model);
    json = folder.config;
    checkpoint = await folder.openWeights();
    base = new CheckpointStore(checkpoint);
  } else {
    json = typeof cfg.init === 'string' ? JSON.parse(readFileSync(cfg.init, 'utf8')) : { ...cfg.init! };
    json.vocab_size ??= tok.vocabSize;
    json.pad_token_id ??= tok.padId;
  }
  try {
    const arch = encoderArch(json.model_type ?? 'roberta', file);
    let config = arch.parseConfig(json, file);
    if (base && !base.shape(`${config.prefix}.embeddings.word_embeddings.weight`) && base.shape('embeddings.word_embeddings.weight')) config = { ...config, prefix: '' };

    // ---- data and labels
    const files = typeof cfg.data === 'string' ? [cfg.data] : cfg.data;
    const examples: LabelledExample[] = [];
    for (const f of files) examples.push(...(await readLabelledFile(f)));
    if (examples.length < 2) throw new SlmError('INVALID_ARGUMENT', `${files.join(', ')}: ${examples.length} labelled example(s); need at least 2`);
    const headLabels = config.task === 'sequence-classification' && base?.shape(arch.modelType === 'roberta' ? 'classifier.out_proj.weight' : 'classifier.weight') ? config.labels : undefined;
    const labels = cfg.labels ?? headLabels ?? [...new Set(examples.map((e) => e.label))].sort();
    if (headLabels && (headLabels.length !== labels.length || headLabels.some((l, i) => l !== labels[i]))) {
      throw new SlmError('INVALID_ARGUMENT', `${cfg.model}: the checkpoint's head has labels [${headLabels.join(', ')}] but training asks for [${labels.join(', ')}]`);
    }
    if (labels.length < 2) throw new SlmError('INVALID_ARGUMENT', `classification needs at least 2 labels (got ${labels.length}: ${labels.join(', ')})`);
    config = { ...config, task: 'sequence-classification', labels };
    const labelIds = new Map(labels.map((l, i) => [l, i]));
    const inputs = new EncoderInputs(arch, config, tok, { truncate: false });
    const split = splitDocuments(examples.length, cfg.heldOut, cfg.seed);
    const pick = (idx: ArrayLike<number>) => Array.from(idx, (i) => examples[i]!);
    const train = encodeExamples(pick(split.train), labelIds, inputs, cfg.seqLen, files.join(', '));
    const held = encodeExamples(pick(split.heldOut), labelIds, inputs, cfg.seqLen, files.join(', '));
    log(`classification: ${labels.length} labels (${labels.join(', ')}), ${train.rows.length} training / ${held.rows.length} held-out examples`);

    // ---- weights: the checkpoint (or random init) plus a fresh head where it has none
    const all = listEncoderTaskWeights(arch, config, { kind: 'classify', numLabels: labels.length });
    const missing = new Map([...all].filter(([n]) => !base?.shape(n)));
    if (base && missing.size) log(`new classification head: ${[...missing.keys()].join(', ')}`);
    let store: WeightStore = base ? new OverlayStore([randomWeights(missing, cfg.seed, 0.02), base]) : randomWeights(all, cfg.seed, cfg.initStd);
    let trainable: ((n: string) => boolean) | undefined;
    let adapters: { train: ReturnType<typeof loraAdapter>; eval: ReturnType<typeof loraAdapter>; dropout: number } | undefined;
    const lora: LoraConfig | undefined = cfg.lora ? { r: cfg.lora.r, alpha: cfg.lora.alpha, dropout: cfg.lora.dropout, targetModules: cfg.lora.targetModules } : undefined;
    let layout;
    let peftExtra: Record<string, unknown> = {};
    if (lora) {
      const targets = loraTargetsOf((vb) => void buildEncoderTaskGraph(arch, config, vb, { kind: 'classify', numLabels: labels.length }), arch.modelType, lora);
      store = new OverlayStore([initLoraWeights(targets, lora, cfg.seed), store]);
      // The head trains in full (PEFT's modules_to_save for sequence classification).
      trainable = (n) => isLoraWeight(n) || missing.has(n) || /^classifier\./.test(n);
      adapters = { train: loraAdapter(lora, { dropoutMasks: true }), eval: loraAdapter(lora), dropout: lora.dropout };
      // PEFT's sequence-classification layout: the head in modules_to_save; config.json beside
      // it carries the label names (PEFT has no place for them).
      const saved = modulesToSave([...all.keys()].filter((n) => trainable!(n)));
      peftExtra = { task_type: 'SEQ_CLS', modules_to_save: saved };
      layout = { weightsFile: ADAPTER_WEIGHTS_FILE, toFileName: (n: string) => PEFT_PREFIX + n, toGraphName: (n: string) => n.replace(/^base_model\.model\./, ''), json: { 'adapter_config.json': { ...adapterConfigJson(lora, cfg.model), ...peftExtra }, 'config.json': arch.toHfConfig(config) } };
      log(`LoRA r=${lora.r} alpha=${lora.alpha} on ${targets.length} layers, classifier head in full`);
    } else {
      layout = { weightsFile: 'model.safetensors', json: { 'config.json': arch.toHfConfig(config) } };
    }
    let resumeFrom: string | undefined;
    if (cfg.resume === true) resumeFrom = latestCheckpoint(cfg.out);
    else if (typeof cfg.resume === 'string') resumeFrom = cfg.resume;
    else if (listCheckpoints(cfg.out).length > 0) throw new SlmError('INVALID_ARGUMENT', `${cfg.out} already holds checkpoints; pass --resume to continue that run, or choose another out folder`);

    const padId = arch.padTokenId(config);
    const trainer = await Trainer.create({
      arch,
      config,
      store,
      trainable,
      adapters,
      objective: classificationObjective(labels.length, arch, config),
      train: new ClassificationBatches(train, cfg.batchSize, cfg.seqLen, padId, cfg.seed),
      heldOut: held.rows.length ? classificationEvalRows(held, cfg.seqLen, padId) : undefined,
      ...trainerRunOptions(cfg, io),
      layout,
      resumeFrom,
    });
    let result;
    const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
    const parameters = [...all.values()].reduce((a, s) => a + numel(s), 0);
    const trainableParameters = trainer.buffers.weights.reduce((a, w) => a + numel(w.shape), 0);
    try {
      result = await trainer.run();
      if (result.stopped === 'completed') {
        const weights = trainer.weights();
        if (lora) {
          await savePeftAdapter(cfg.out, lora, cfg.model, weights, peftExtra);
          writeFileSync(join(cfg.out, 'config.json'), JSON.stringify(arch.toHfConfig(config), null, 2) + '\n');
        }
        else {
          // The full model: trained weights, plus any the graph read but did not train.
          const trained = new Set(weights.map((w) => w.name));
          const rest = [];
          for (const [name, shape] of all) if (!trained.has(name)) rest.push({ name, shape, data: await store.loadF32(name) });
          await writeHfModelFolder(cfg.out, { arch, config, weights: [...weights, ...rest] });
        }
        writeTokenizerFiles(cfg.out, tokPath, tok);
      }
    } finally {
      await trainer.dispose();
    }
    const out: ClassificationRunResult = { out: cfg.out, modelType: arch.modelType, step: result.step, stopped: result.stopped, labels, trainExamples: train.rows.length, heldOutExamples: held.rows.length, parameters, trainableParameters };
    if (result.stopped === 'completed' && held.rows.length) {
      // Held-out metrics of the model as written (the same path `slm classify` takes; LoRA: the
      // base with the adapter applied).
      const m = await loadEncoder(lora ? cfg.model! : cfg.out, { threads: cfg.threads, cacheDir: cfg.onnxCacheDir, ...(lora ? { adapter: cfg.out } : {}) });
      try {
        const pred = await m.classify(pick(split.heldOut).map((e) => (e.textPair === undefined ? e.text : { text: e.text, text_pair: e.textPair })), io.signal);
        const metrics = classificationMetrics(held.labels, pred.map((p) => labelIds.get(p.label)!), labels.length);
        const counts = labels.map((_, k) => held.labels.filter((l) => l === k).length);
        const majority = Math.max(...counts) / held.labels.length;
        out.heldOut = { ...metrics, majority_accuracy: majority };
        appendFileSync(join(cfg.out, 'metrics.jsonl'), JSON.stringify({ step: result.step, eval_accuracy: metrics.accuracy, eval_macro_f1: metrics.macro_f1, eval_mcc: metrics.mcc, eval_majority_accuracy: majority, eval_examples: held.labels.length }) + '\n');
        log(`held-out: accuracy ${metrics.accuracy.toFixed(4)} (majority class ${majority.toFixed(4)}), macro-F1 ${metrics.macro_f1.toFixed(4)}, MCC ${metrics.mcc.toFixed(4)}`);
      } finally {
        await m.dispose();
      }
    }
    return out;
  } finally {
    await checkpoint?.close();
  }
}
