// FLAN mixtures: examples-proportional mixing with per-dataset caps, cluster hold-out, and
// the records `slm data flan` writes.
//   rate_m = min(e_m, K) / Σ_n min(e_n, K),  e_m = min(|train_m|, 30000)  (FLAN mixtures.py,
//   seqio.mixing_rate_num_examples with maximum K = 3000)
// A mixture of `total` records gives each dataset round(total · rate_m) of them (largest
// remainders), drawing its examples in a seeded order without repetition until exhausted.
import { SlmError } from '../../errors.ts';
import { Rng, deriveSeed } from '../../util/rng.ts';
import { FLAN_CLUSTERS, type FlanExample } from './datasets.ts';
import { chainOfThought, fewShot, supportsFormat, zeroShot, type FlanFormat } from './formats.ts';

/** FLAN's per-dataset training cap (NUM_TRAIN_EXAMPLES) and mixing-rate maximum K. */
export const FLAN_TRAIN_CAP = 30000;
export const FLAN_RATE_MAX = 3000;

/** Examples-proportional rates with the cap K. */
export function mixingRates(sizes: Record<string, number>, K = FLAN_RATE_MAX, cap = FLAN_TRAIN_CAP): Record<string, number> {
  const capped = Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, Math.min(n, cap, K)]));
  const sum = Object.values(capped).reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new SlmError('INVALID_ARGUMENT', 'the mixture has no examples');
  return Object.fromEntries(Object.entries(capped).map(([k, n]) => [k, n / sum]));
}

/** Integer counts summing to total, proportional to rates (largest remainder; ties by name). */
export function allocate(rates: Record<string, number>, total: number): Record<string, number> {
  const names = Object.keys(rates).sort();
  const raw = names.map((n) => rates[n]! * total);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = names.map((_, i) => i).sort((a, b) => raw[b]! - out[b]! - (raw[a]! - out[a]!) || a - b);
  for (const i of order) if (left-- > 0) out[i]!++;
  return Object.fromEntries(names.map((n, i) => [n, out[i]!]));
}

/**
 * Clusters left out of training when evaluating `cluster` (FLAN §4.1): the cluster itself,
 * paraphrase with NLI and vice versa, and read_comp_and_common_sense with either parent.
 */
export function heldOutClusters(cluster: string): string[] {
  const out = new Set([cluster]);
  if (cluster === 'nli') out.add('paraphrase');
  if (cluster === 'paraphrase') out.add('nli');
  if (cluster === 'reading_comprehension' || cluster === 'commonsense') out.add('read_comp_and_common_sense');
  return [...out];
}

/** The datasets a mixture trains on when `holdOut` clusters are evaluated. */
export function trainingDatasets(datasets: readonly string[], holdOut: readonly string[]): string[] {
  const drop = new Set(holdOut.flatMap(heldOutClusters));
  return datasets.filter((d) => !drop.has(FLAN_CLUSTERS[d] ?? d));
}

export interface MixOptions {
  /** Records to write. */
  total: number;
  seed: number;
  /** Share of each format; formats a dataset cannot take fall back to zero-shot. */
  formats?: Partial<Record<FlanFormat, number>>;
  /** Exemplars per few-shot record (default 2). */
  shots?: number;
  /** Rate maximum K (default 3000). */
  rateMax?: number;
  /** Allow task-inverting templates (default true). */
  inverted?: boolean;
}

export interface FlanRecord {
  messages: { role: 'user' | 'assistant'; content: string }[];
  dataset: string;
  cluster: string;
  format: FlanFormat;
  template: number;
}

/** Builds a mixture from loaded datasets (each capped at FLAN_TRAIN_CAP examples). */
export function buildMixture(data: Record<string, FlanExample[]>, o: MixOptions): FlanRecord[] {
  const sizes = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.length]));
  const counts = allocate(mixingRates(sizes, o.rateMax ?? FLAN_RATE_MAX), o.total);
  const fmt = o.formats ?? { 'zero-shot': 1 };
  const fmtNames = Object.keys(fmt) as FlanFormat[];
  const fmtWeights = fmtNames.map((f) => fmt[f] ?? 0);
  const shots = o.shots ?? 2;
  const records: FlanRecord[] = [];
  for (const name of Object.keys(counts).sort()) {
    const exs = data[name]!.slice(0, FLAN_TRAIN_CAP);
    const rng = new Rng(deriveSeed(o.seed, 'flan', name));
    let perm = rng.permutation(exs.length);
    let at = 0;
    const draw = () => {
      if (at === perm.length) [perm, at] = [rng.permutation(exs.length), 0];
      return exs[perm[at++]!]!;
    };
    for (let i = 0; i < counts[name]!; i++) {
      const ex = draw();
      let format = fmtNames[rng.weightedIndex(fmtWeights)]!;
      if (!supportsFormat(name, ex.fields, format) || (format === 'few-shot' && exs.length <= shots)) format = 'zero-shot';
      let f;
      if (format === 'cot') f = chainOfThought(ex.fields, rng);
      else if (format === 'few-shot') {
        const shotsEx: FlanExample[] = [];
        while (shotsEx.length < shots) {
          const e = exs[rng.int(exs.length)]!;
          if (e !== ex && !shotsEx.includes(e)) shotsEx.push(e);
        }
        f = fewShot(name, ex.fields, shotsEx.map((e) => e.fields), rng);
      } else f = zeroShot(name, ex.fields, rng, { inverted: o.inverted });
      records.push({
        messages: [
          { role: 'user', content: f.input },
          { role: 'assistant', content: f.target },
        ],
        dataset: name,
        cluster: FLAN_CLUSTERS[name] ?? name,
        format,
        template: f.template,
      });
    }
  }
  // Interleave datasets (the trainer shuffles too, but a file read in order should be mixed).
  return new Rng(deriveSeed(o.seed, 'flan-order')).shuffle(records);
}
