// `slm pet --model <masked-LM encoder> --task sst2 --train FILE --shots 32 --out DIR`: PET / iPET
// few-shot classification (docs/methods/pet.md). Trains one MLM model per pattern and repetition
// on the labelled examples, merges their logits on the unlabelled set and distils them into a
// sequence classifier written to --out (usable by `slm classify`). --ipet runs the iterative
// self-labelling generations; --baseline also fine-tunes the classifier on the labelled examples
// alone, with the same seed and settings, for comparison. Reports on stderr, --json on stdout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { openEncoderFiles, encoderArch } from '../../models/encoder-model.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';
import { compile } from '../../runtime/session.ts';
import { writeHfModelFolder, writeTokenizerFiles } from '../../train/hf-output.ts';
import { bindPvps } from '../../methods/pet/encode.ts';
import { BUILTIN_PVPS, builtinPvps, readPvpFile, type Example } from '../../methods/pet/pvp.ts';
import { fewShotSplit, readExamples } from '../../methods/pet/datasets.ts';
import { runFineTuneBaseline, runPet, type PetOptions, type PetResult } from '../../methods/pet/pet.ts';
import { classifierConfig, type PetBase } from '../../methods/pet/train.ts';
import type { BuildRunner } from '../../methods/pet/scoring.ts';
import { numberFlag } from '../number-flag.ts';


const command: Command = {
  name: 'pet',
  summary: 'PET / iPET few-shot classification: cloze patterns + verbalizers on a masked-LM encoder, ensemble, distilled classifier',
  usage: '--model <mlm-encoder> --task sst2 --train FILE (--shots N | --unlabelled FILE) [--test FILE] --out DIR [--ipet] [--baseline] [--json]',
  allowPositionals: false,
  options: {
    model: { type: 'string', valueName: 'dir', description: 'masked-LM encoder folder (RoBERTa/BERT with its MLM head)' },
    task: { type: 'string', valueName: 'name', description: `data format and built-in patterns: ${Object.keys(BUILTIN_PVPS).join(', ')}; other: JSONL with a label field` },
    pvps: { type: 'string', valueName: 'name|file', description: 'pattern–verbalizer pairs: a built-in name or a PVP JSON file (default: --task)' },
    patterns: { type: 'string', valueName: 'i,j', description: 'use only these pattern ids' },
    train: { type: 'string', valueName: 'file', description: 'labelled examples (all of them, or the pool --shots draws from)' },
    shots: { type: 'string', valueName: 'n', description: 'draw n labelled examples from --train (label-balanced, seeded); the rest is the unlabelled set' },
    unlabelled: { type: 'string', valueName: 'file', description: 'unlabelled examples (labels ignored); default: the rest of --train with --shots' },
    'max-unlabelled': { type: 'string', valueName: 'n', description: 'cap on unlabelled examples (default 20000, as the reference)' },
    test: { type: 'string', valueName: 'file', description: 'labelled test set: accuracy of every model, the ensemble and the classifier' },
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'output: the distilled classifier folder, pet.json, unlabelled-logits.jsonl' },
    repetitions: { type: 'string', valueName: 'n', description: 'models per pattern (default 3)' },
    alpha: { type: 'string', valueName: 'a', description: 'weight of the PET loss, 1 − a for the auxiliary MLM loss (default 0.9999; 1: no MLM)' },
    steps: { type: 'string', valueName: 'n', description: 'optimizer steps per pattern model (default 250)' },
    'batch-size': { type: 'string', valueName: 'n', description: 'pattern-model batch (default 16)' },
    lr: { type: 'string', valueName: 'x', description: 'learning rate (default 1e-5)' },
    'weight-decay': { type: 'string', valueName: 'x', description: 'AdamW weight decay (default 0.01)' },
    'seq-len': { type: 'string', valueName: 'n', description: 'max tokens per row (default 256)' },
    reduction: { type: 'string', valueName: 'wmean|mean', description: 'logit merging: weighted by pre-training train accuracy (default) or plain mean' },
    temperature: { type: 'string', valueName: 'T', description: 'distillation temperature (default 2)' },
    'distill-steps': { type: 'string', valueName: 'n', description: 'classifier steps (default 5000)' },
    'distill-batch-size': { type: 'string', valueName: 'n', description: 'classifier batch (default 16)' },
    'distill-lr': { type: 'string', valueName: 'x', description: 'classifier learning rate (default: --lr)' },
    ipet: { type: 'boolean', description: 'iPET: iterative self-labelling generations' },
    generations: { type: 'string', valueName: 'n', description: 'iPET generations (default 3)' },
    'logits-percentage': { type: 'string', valueName: 'x', description: 'iPET: share of the other models labelling for a model (default 0.25)' },
    'scale-factor': { type: 'string', valueName: 'd', description: 'iPET: training-set growth per generation (default 5)' },
    baseline: { type: 'boolean', description: 'also fine-tune the classifier on the labelled examples alone (same seed and settings), written to --out/baseline' },
    seed: { type: 'string', valueName: 'n', description: 'seed (split, training, sampling; default 0)' },
    threads: { type: 'string', valueName: 'n', description: 'onnxruntime threads' },
    json: { type: 'boolean', description: 'print the report as JSON on stdout' },
  },
  async run({ values }, io) {
    if (!values.model || !values.train || !values.out) {
      io.stderr.write('slm pet: --model, --train and --out are required (see slm pet --help)\n');
      return 2;
    }
    const log = (s: string) => io.stderr.write(s + '\n');
    const task = values.task as string | undefined;
    const pvpsArg = (values.pvps as string | undefined) ?? task;
    if (!pvpsArg) throw new SlmError('INVALID_ARGUMENT', '--pvps (or --task with built-in patterns) is required');
    let set = BUILTIN_PVPS[pvpsArg] ? builtinPvps(pvpsArg) : readPvpFile(pvpsArg);
    if (values.patterns) {
      const ids = String(values.patterns).split(',').map((s) => Number(s.trim()));
      const bad = ids.find((i) => !set.pvps.some((p) => p.id === i));
      if (bad !== undefined) throw new SlmError('INVALID_ARGUMENT', `--patterns: no pattern ${bad} (ids 0..${set.pvps.length - 1})`);
      set = { ...set, pvps: set.pvps.filter((p) => ids.includes(p.id)) };
    }
    const seed = numberFlag(values, 'seed', 0, { int: true, min: 0 });
    const pool = readExamples(values.train as string, task);
    let train: Example[];
    let unlabelled: Example[];
    const maxUnl = numberFlag(values, 'max-unlabelled', 20000, { int: true, min: 0 });
    if (values.shots !== undefined) {
      const split = fewShotSplit(pool, numberFlag(values, 'shots', 32, { int: true, min: 1 }), maxUnl, seed);
      train = split.train;
      unlabelled = split.unlabelled;
    } else {
      train = pool;
      unlabelled = [];
    }
    if (values.unlabelled) unlabelled = readExamples(values.unlabelled as string, task).slice(0, maxUnl).map((e) => ({ fields: e.fields }));
    if (unlabelled.length === 0) throw new SlmError('INVALID_ARGUMENT', 'PET needs unlabelled examples: give --unlabelled FILE or --shots N (the rest of --train)');
    const test = values.test ? readExamples(values.test as string, task) : undefined;

    const model = values.model as string;
    const opened = await openEncoderFiles(model);
    try {
      const arch = encoderArch(opened.config.model_type, `${model}/config.json`);
      const config = arch.parseConfig(opened.config, `${model}/config.json`);
      const mlmHead = arch.modelType === 'roberta' ? 'lm_head.dense.weight' : 'cls.predictions.transform.dense.weight';
      if (!opened.store.shape(mlmHead)) throw new SlmError('INVALID_ARGUMENT', `${model}: PET needs a masked-LM encoder (its MLM head scores the verbalizers); no ${mlmHead} in the checkpoint`);
      const tok = await loadTokenizer(opened.tokenizerPath);
      const base: PetBase = { arch, config: { ...config, task: 'masked-lm' }, store: opened.store, tok };
      const threads = values.threads !== undefined ? numberFlag(values, 'threads', 1, { int: true, min: 1 }) : undefined;
      const build: BuildRunner = async (g) => {
        const cg = await compile(g, { threads, cacheDir: false, signal: io.signal });
        return { run: (feeds) => cg.run(feeds), dispose: () => cg.dispose() };
      };
      const seqLen = Math.min(numberFlag(values, 'seq-len', 256, { int: true, min: 8 }), arch.maxPositions(config));
      const lr = numberFlag(values, 'lr', 1e-5, { min: 0 });
      const reduction = (values.reduction as string | undefined) ?? 'wmean';
      if (reduction !== 'wmean' && reduction !== 'mean') throw new SlmError('INVALID_ARGUMENT', `--reduction must be wmean or mean (got ${reduction})`);
      const out = values.out as string;
      const workDir = join(out, 'work');
      mkdirSync(workDir, { recursive: true });
      const o: PetOptions = {
        labels: set.labels,
        pvps: bindPvps(set, tok),
        train,
        unlabelled,
        test,
        repetitions: numberFlag(values, 'repetitions', 3, { int: true, min: 1 }),
        alpha: numberFlag(values, 'alpha', 0.9999, { min: 0, max: 1 }),
        reduction,
        temperature: numberFlag(values, 'temperature', 2, { min: 1e-6 }),
        pvp: { steps: numberFlag(values, 'steps', 250, { int: true, min: 1 }), batchSize: numberFlag(values, 'batch-size', 16, { int: true, min: 1 }), lr, weightDecay: numberFlag(values, 'weight-decay', 0.01, { min: 0 }) },
        classifier: { steps: numberFlag(values, 'distill-steps', 5000, { int: true, min: 1 }), batchSize: numberFlag(values, 'distill-batch-size', 16, { int: true, min: 1 }), lr: numberFlag(values, 'distill-lr', lr, { min: 0 }), weightDecay: numberFlag(values, 'weight-decay', 0.01, { min: 0 }) },
        seqLen,
        ipet: values.ipet ? { generations: numberFlag(values, 'generations', 3, { int: true, min: 1 }), logitsPercentage: numberFlag(values, 'logits-percentage', 0.25, { min: 0, max: 1 }), scaleFactor: numberFlag(values, 'scale-factor', 5, { min: 1 }) } : undefined,
        seed,
        threads,
        workDir,
        build,
        log,
        signal: io.signal,
      };
      log(`pet: ${o.pvps.length} pattern(s) × ${o.repetitions} repetition(s)${o.ipet ? ` × ${o.ipet.generations} iPET generation(s)` : ''}; ${train.length} labelled, ${unlabelled.length} unlabelled${test ? `, ${test.length} test` : ''} examples`);
      const started = Date.now();
      let baseline: { testAccuracy?: number } | undefined;
      const writeClassifier = async (dir: string, weights: PetResult['classifier']) => {
        await writeHfModelFolder(dir, { arch, config: classifierConfig(base, set.labels), weights: [...weights].map(([name, w]) => ({ name, shape: w.shape, data: w.data })) });
        writeTokenizerFiles(dir, opened.tokenizerPath, tok);
      };
      if (values.baseline) {
        const b = await runFineTuneBaseline(base, o);
        await writeClassifier(join(out, 'baseline'), b.classifier);
        baseline = { testAccuracy: b.testAccuracy };
        log(`baseline (fine-tuning on the ${train.length} labelled examples): ${b.testAccuracy !== undefined ? `test accuracy ${b.testAccuracy.toFixed(4)}` : 'done'}`);
      }
      const r = await runPet(base, o);
      await writeClassifier(out, r.classifier);
      writeFileSync(join(out, 'unlabelled-logits.jsonl'), unlabelled.map((e, i) => JSON.stringify({ ...e.fields, logits: r.unlabelledLogits[i] })).join('\n') + '\n');
      const report = {
        out,
        labels: set.labels,
        patterns: o.pvps.map((p) => ({ id: p.id, pattern: p.pattern })),
        labelled: train.length,
        unlabelled: unlabelled.length,
        test: test?.length ?? 0,
        ipet: o.ipet ?? null,
        models: r.models,
        ensemble_test_accuracy: r.ensembleTestAccuracy ?? null,
        classifier_test_accuracy: r.classifierTestAccuracy ?? null,
        baseline_test_accuracy: baseline?.testAccuracy ?? null,
        seconds: (Date.now() - started) / 1000,
      };
      writeFileSync(join(out, 'pet.json'), JSON.stringify(report, null, 2) + '\n');
      if (values.json) io.stdout.write(JSON.stringify(report) + '\n');
      else log(`wrote the classifier to ${out}${r.classifierTestAccuracy !== undefined ? ` (test accuracy ${r.classifierTestAccuracy.toFixed(4)})` : ''}`);
      return 0;
    } finally {
      await opened.checkpoint.close();
    }
  },
};

export default command;
