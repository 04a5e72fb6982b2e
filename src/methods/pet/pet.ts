// The PET / iPET pipeline (Schick & Schütze 2021), following the reference code (timoschick/pet):
//   1. per PVP, `repetitions` MLM models trained from the base encoder on the labelled set
//      (PET loss + auxiliary MLM loss on the unlabelled set, alpha as the reference's CLI);
//   2. each model weighted by its accuracy on its own training set *before* training
//      (reduction 'wmean'; 'mean' weights all models 1);
//   3. the models' raw label logits on the unlabelled set averaged with those weights;
//   4. a sequence classifier trained on the unlabelled set against softmax(logits / T).
// iPET repeats 1 for `generations`: each model of generation g+1 trains on the labelled set
// plus examples labelled by a random `logitsPercentage` of the *other* generation-g models, so
// that its set has |T0|·scaleFactor^(g+1) examples in the labelled set's label distribution,
// examples drawn per label in proportion to the ensemble's probability of that label
// (generate_ipet_train_sets / _draw_examples_by_label_probability). The last generation's
// logits are distilled as in 4.
import type { HfTokenizer } from '../../tokenizer/index.ts';
import type { Graph } from '../../ir/graph.ts';
import { encoderFeeds } from '../../models/encoder-inputs.ts';
import { SlmError, throwIfAborted } from '../../errors.ts';
import type { Example } from './pvp.ts';
import type { BoundPvp } from './encode.ts';
import { seededRandom } from './datasets.ts';
import { MaskScorer, accuracy, argmax, mergeLogits, scorePvp, softmax, type BuildRunner } from './scoring.ts';
import { memoryStore, trainClassifier, trainPvpModel, type PetBase, type TrainSettings } from './train.ts';
import { buildClassifierGraph } from './graphs.ts';

export interface StageSettings {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
}

export interface PetOptions {
  labels: string[];
  pvps: BoundPvp[];
  train: Example[];
  unlabelled: Example[];
  /** Scored by every model, the ensemble and the classifier when given (labelled). */
  test?: Example[];
  repetitions: number;
  alpha: number;
  reduction: 'wmean' | 'mean';
  temperature: number;
  pvp: StageSettings;
  classifier: StageSettings;
  seqLen: number;
  ipet?: { generations: number; logitsPercentage: number; scaleFactor: number };
  seed: number;
  threads?: number;
  workDir: string;
  build: BuildRunner;
  log?: (m: string) => void;
  signal?: AbortSignal;
}

export interface PetModelReport {
  generation: number;
  pvp: number;
  repetition: number;
  trainExamples: number;
  /** Accuracy on its training set before training (its ensemble weight under 'wmean'). */
  weight: number;
  testAccuracy?: number;
}

export interface PetResult {
  models: PetModelReport[];
  /** Merged label logits of the last generation on the unlabelled set. */
  unlabelledLogits: number[][];
  /** Accuracy of the merged last-generation logits on the test set. */
  ensembleTestAccuracy?: number;
  classifier: Map<string, { shape: number[]; data: Float32Array }>;
  classifierTestAccuracy?: number;
}

type Labelled = { example: Example; label: number };

function labelIds(examples: readonly Example[], labels: readonly string[], what: string): number[] {
  return examples.map((e, i) => {
    const k = labels.indexOf(e.label ?? '');
    if (k < 0) throw new SlmError('INVALID_ARGUMENT', `${what} example ${i + 1} has label ${JSON.stringify(e.label)}, not one of ${labels.join(', ')}`);
    return k;
  });
}

/** The classifier's input for an example: its text, or the task's sentence pair. */
export function classifierText(e: Example): { text: string; text_pair?: string } {
  const f = e.fields;
  if (f.premise !== undefined && f.hypothesis !== undefined) return { text: f.premise, text_pair: f.hypothesis };
  if (f.passage !== undefined && f.question !== undefined) return { text: f.passage, text_pair: f.question };
  if (f.text !== undefined) return { text: f.text };
  return { text: Object.values(f).join(' ') };
}

/** Token rows for the classifier, cut to `maxLength` keeping the closing special token. */
export function classifierRows(base: PetBase, examples: readonly Example[], maxLength: number): number[][] {
  const tok: HfTokenizer = base.tok;
  const around = tok.encode('', { addSpecialTokens: true });
  const cls = around.length >= 1 ? around[0]! : undefined;
  const sep = around.length >= 2 ? around.at(-1)! : undefined;
  return examples.map((e) => {
    const x = classifierText(e);
    let ids: number[];
    if (x.text_pair !== undefined && cls !== undefined && sep !== undefined) ids = base.arch.pairIds(tok.encode(x.text, { addSpecialTokens: false }), tok.encode(x.text_pair, { addSpecialTokens: false }), cls, sep).ids;
    else ids = tok.encode(x.text, { addSpecialTokens: true });
    return ids.length <= maxLength ? ids : [...ids.slice(0, maxLength - 1), ids.at(-1)!];
  });
}

/** Label logits [rows][labels] of a sequence classifier held in memory. */
export async function classifierLogits(base: PetBase, weights: PetResult['classifier'], numLabels: number, rows: readonly number[][], build: BuildRunner, batch = 32): Promise<number[][]> {
  const c = { ...base.config, task: 'sequence-classification' as const };
  const runner = await build(buildClassifierGraph(base.arch, c, memoryStore(weights, base.store), numLabels) as Graph);
  try {
    const out: number[][] = [];
    for (let i = 0; i < rows.length; i += batch) {
      const part = rows.slice(i, i + batch);
      const feeds = encoderFeeds(base.arch, c, part.map((ids) => ({ ids, types: null })), Math.max(...part.map((r) => r.length)));
      delete feeds.token_type_ids;
      const l = (await runner.run(feeds)).logits!;
      const d = l.data as Float32Array;
      part.forEach((_, b) => out.push(Array.from(d.subarray(b * numLabels, (b + 1) * numLabels))));
    }
    return out;
  } finally {
    await runner.dispose?.();
  }
}

/**
 * The next iPET generation's training set of one model: the labelled set plus
 * |T0|·d^(g+1) − |T0| examples of `unlabelled`, labelled by argmax of `logits`, `share[y]` of
 * them with label y, drawn without replacement in proportion to p(y|x) (with replacement when
 * fewer than needed carry the label: the reference upsamples then).
 */
export function ipetTrainSet(t0: readonly Labelled[], unlabelled: readonly Example[], logits: readonly number[][], numLabels: number, generation: number, scaleFactor: number, rnd: () => number): Labelled[] {
  const total = Math.round(Math.max(1, t0.length) * scaleFactor ** (generation + 1)) - t0.length;
  const counts = new Array<number>(numLabels).fill(0);
  t0.forEach((x) => counts[x.label]!++);
  const share = t0.length > 0 ? counts.map((c) => c / t0.length) : counts.map(() => 1 / numLabels);
  const probs = logits.map((l) => softmax(l));
  const out: Labelled[] = [...t0];
  for (let y = 0; y < numLabels; y++) {
    const want = Math.round(share[y]! * total);
    let pool = unlabelled.map((_, i) => i).filter((i) => argmax(logits[i]!) === y);
    // No example predicted as y: draw from all of them by p(y|x), so the set keeps its size and
    // label distribution (our choice; see docs/methods/pet.md).
    if (pool.length === 0) pool = unlabelled.map((_, i) => i);
    if (want === 0 || pool.length === 0) continue;
    const w = pool.map((i) => probs[i]![y]!);
    const replace = pool.length < want;
    for (let n = 0; n < want; n++) {
      const sum = w.reduce((a, b) => a + b, 0);
      let r = rnd() * sum;
      let k = 0;
      while (k < w.length - 1 && r >= w[k]!) r -= w[k++]!;
      out.push({ example: { fields: unlabelled[pool[k]!]!.fields, label: undefined }, label: y });
      if (!replace) w[k] = 0;
    }
  }
  return out;
}

export async function runPet(base: PetBase, o: PetOptions): Promise<PetResult> {
  const log = o.log ?? (() => {});
  const C = o.labels.length;
  const t0: Labelled[] = o.train.map((example, i) => ({ example, label: labelIds(o.train, o.labels, 'training')[i]! }));
  if (t0.length === 0) throw new SlmError('INVALID_ARGUMENT', 'PET needs labelled training examples (zero-shot iPET is not implemented)');
  const testGold = o.test ? labelIds(o.test, o.labels, 'test') : undefined;
  const generations = o.ipet ? o.ipet.generations : 1;
  const rnd = seededRandom(o.seed * 131 + 17);
  const models: PetModelReport[] = [];
  // Per model of the current generation: its PVP index, logits on unlabelled / test, weight.
  let current: { pvp: number; unl: number[][]; test?: number[][]; weight: number }[] = [];
  let trainSets: Labelled[][] = [];
  if (o.ipet && o.pvps.length * o.repetitions < 2) throw new SlmError('INVALID_ARGUMENT', 'iPET labels each model\'s data with other models of its generation: it needs at least 2 models (patterns × repetitions)');
  // The base model's accuracy per training set is each model's ensemble weight: one scorer per PVP.
  const baseScorers = new Map<number, MaskScorer>();
  try {
    for (let g = 0; g < generations; g++) {
      const sets = g === 0 ? o.pvps.flatMap(() => Array.from({ length: o.repetitions }, () => t0)) : trainSets;
      const next: typeof current = [];
      let m = 0;
      for (let p = 0; p < o.pvps.length; p++) {
        for (let rep = 0; rep < o.repetitions; rep++, m++) {
          throwIfAborted(o.signal);
          const pvp = o.pvps[p]!;
          const set = sets[m]!;
          let baseScorer = baseScorers.get(p);
          if (!baseScorer) baseScorers.set(p, (baseScorer = new MaskScorer(base.arch, base.config, base.store, o.build)));
          const weight = accuracy(await scorePvp(baseScorer, pvp, set.map((x) => x.example), { maxLength: o.seqLen, signal: o.signal }), set.map((x) => x.label));
          const settings: TrainSettings = { ...o.pvp, seqLen: o.seqLen, seed: o.seed + 1000 * g + 100 * rep + p, threads: o.threads, outDir: `${o.workDir}/g${g}-p${pvp.id}-r${rep}`, log, signal: o.signal };
          const rows = set.map((x) => ({ row: pvp.encode(x.example, o.seqLen), label: x.label }));
          const unlRows = o.unlabelled.map((e) => pvp.encode(e, o.seqLen));
          const weights = await trainPvpModel(base, pvp, rows, unlRows, o.alpha, settings);
          const scorer = new MaskScorer(base.arch, base.config, memoryStore(weights, base.store), o.build);
          try {
            const unl = await scorePvp(scorer, pvp, o.unlabelled, { maxLength: o.seqLen, signal: o.signal });
            const test = o.test ? await scorePvp(scorer, pvp, o.test, { maxLength: o.seqLen, signal: o.signal }) : undefined;
            const testAccuracy = test && testGold ? accuracy(test, testGold) : undefined;
            models.push({ generation: g, pvp: pvp.id, repetition: rep, trainExamples: set.length, weight, testAccuracy });
            log(`generation ${g} pattern ${pvp.id} repetition ${rep}: ${set.length} training examples, weight ${weight.toFixed(3)}${testAccuracy !== undefined ? `, test accuracy ${testAccuracy.toFixed(4)}` : ''}`);
            next.push({ pvp: p, unl, test, weight });
          } finally {
            await scorer.dispose();
          }
        }
      }
      current = next;
      if (o.ipet && g + 1 < generations) {
        // Each model's next set from a random share of the *other* models of this generation.
        trainSets = current.map((_, i) => {
          const others = current.filter((__, j) => j !== i);
          const k = Math.max(1, Math.floor(o.ipet!.logitsPercentage * others.length));
          const picked = shuffled(others, rnd).slice(0, k);
          const merged = mergeLogits(picked.map((x) => ({ logits: x.unl, weight: x.weight })), o.reduction);
          return ipetTrainSet(t0, o.unlabelled, merged, C, g, o.ipet!.scaleFactor, rnd);
        });
      }
    }
  } finally {
    for (const sc of baseScorers.values()) await sc.dispose();
  }
  const unlabelledLogits = mergeLogits(current.map((x) => ({ logits: x.unl, weight: x.weight })), o.reduction);
  const ensembleTestAccuracy = testGold ? accuracy(mergeLogits(current.map((x) => ({ logits: x.test!, weight: x.weight })), o.reduction), testGold) : undefined;
  if (ensembleTestAccuracy !== undefined) log(`ensemble of ${current.length} models: test accuracy ${ensembleTestAccuracy.toFixed(4)}`);
  const soft = unlabelledLogits.map((l) => softmax(l, o.temperature));
  const classifier = await trainClassifier(base, o.labels, classifierRows(base, o.unlabelled, o.seqLen), soft, o.temperature, { ...o.classifier, seqLen: o.seqLen, seed: o.seed, threads: o.threads, outDir: `${o.workDir}/classifier`, log, signal: o.signal });
  const classifierTestAccuracy = o.test && testGold ? accuracy(await classifierLogits(base, classifier, C, classifierRows(base, o.test, o.seqLen), o.build), testGold) : undefined;
  if (classifierTestAccuracy !== undefined) log(`distilled classifier: test accuracy ${classifierTestAccuracy.toFixed(4)}`);
  return { models, unlabelledLogits, ensembleTestAccuracy, classifier, classifierTestAccuracy };
}

/** Plain fine-tuning of the sequence classifier on the labelled examples alone (the baseline). */
export async function runFineTuneBaseline(base: PetBase, o: Pick<PetOptions, 'labels' | 'train' | 'test' | 'classifier' | 'seqLen' | 'seed' | 'threads' | 'workDir' | 'build' | 'log' | 'signal'>): Promise<{ classifier: PetResult['classifier']; testAccuracy?: number }> {
  const C = o.labels.length;
  const gold = labelIds(o.train, o.labels, 'training');
  const soft = gold.map((y) => Array.from({ length: C }, (_, k) => (k === y ? 1 : 0)));
  const classifier = await trainClassifier(base, o.labels, classifierRows(base, o.train, o.seqLen), soft, 1, { ...o.classifier, seqLen: o.seqLen, seed: o.seed, threads: o.threads, outDir: `${o.workDir}/baseline`, log: o.log, signal: o.signal });
  const testAccuracy = o.test ? accuracy(await classifierLogits(base, classifier, C, classifierRows(base, o.test, o.seqLen), o.build), labelIds(o.test, o.labels, 'test')) : undefined;
  return { classifier, testAccuracy };
}

function shuffled<T>(xs: readonly T[], rnd: () => number): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
