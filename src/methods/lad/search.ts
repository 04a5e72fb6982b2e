// Evolutionary search of length configurations (LAT's search, which LAD follows): a population
// of configurations, each scored by accuracy on a development set; each generation keeps the
// best (parents), and adds children by mutation (each layer's ratio re-drawn with probability
// mutationProb) and crossover (per-layer choice between two parents). Configurations over the
// budget (FLOPs speed-up below the target, computed from the data's lengths) are never
// evaluated. The encoder is compiled once: every configuration is a set of feeds.
import type { LengthConfig } from '../../models/token-pruning.ts';
import { Rng } from '../../util/rng.ts';
import { flopsSpeedup, sampleConfig, LENGTH_DROP_MAX, type EncoderShape } from './length-config.ts';

export interface SearchCandidate {
  config: number[];
  accuracy: number;
  speedup: number;
}

export interface SearchOptions {
  shape: EncoderShape;
  /** Token counts of the development examples (for the FLOPs speed-up). */
  lengths: readonly number[];
  /** Accuracy of a configuration on the development set. */
  evaluate(config: LengthConfig): Promise<number>;
  /** Minimum FLOPs speed-up a configuration must reach. */
  minSpeedup: number;
  population?: number;
  generations?: number;
  parents?: number;
  mutationProb?: number;
  seed?: number;
  onEvaluated?: (c: SearchCandidate, evaluations: number) => void;
}

/** Per-layer ratios of a configuration (each layer's fraction of the previous one). */
function ratios(c: readonly number[]): number[] {
  return c.map((f, i) => f / (i === 0 ? 1 : c[i - 1]!));
}
function fromRatios(r: readonly number[]): number[] {
  let f = 1;
  return r.map((x) => (f *= Math.min(1, Math.max(0.02, x))));
}

export async function evolutionarySearch(o: SearchOptions): Promise<{ best: SearchCandidate; evaluated: SearchCandidate[] }> {
  const rng = new Rng(o.seed ?? 0);
  const P = o.population ?? 12;
  const G = o.generations ?? 6;
  const K = o.parents ?? Math.max(2, Math.floor(P / 3));
  const mp = o.mutationProb ?? 0.5;
  const layers = o.shape.layers;
  const seen = new Map<string, SearchCandidate>();
  const speed = (c: number[]) => flopsSpeedup(o.shape, o.lengths, c);
  // Random configurations that meet the budget: LengthDrop draws with a drop bound scaled until
  // the budget is reachable (a budget of 2× needs far more than LAT's 0.2 per layer).
  const random = (): number[] => {
    for (let pMax = LENGTH_DROP_MAX; pMax <= 0.95; pMax += 0.05) {
      for (let t = 0; t < 20; t++) {
        const c = sampleConfig(layers, rng, pMax);
        if (speed(c) >= o.minSpeedup) return c;
      }
    }
    return Array.from({ length: layers }, () => 0.05);
  };
  const score = async (c: number[]): Promise<SearchCandidate | undefined> => {
    const cfg = c.map((f) => Math.round(f * 100) / 100);
    for (let i = 1; i < cfg.length; i++) cfg[i] = Math.min(cfg[i]!, cfg[i - 1]!);
    if (cfg.some((f) => f <= 0)) return undefined;
    const key = cfg.join(',');
    const hit = seen.get(key);
    if (hit) return hit;
    const sp = speed(cfg);
    if (sp < o.minSpeedup) return undefined;
    const cand = { config: cfg, accuracy: await o.evaluate(cfg), speedup: sp };
    seen.set(key, cand);
    o.onEvaluated?.(cand, seen.size);
    return cand;
  };
  let pop: SearchCandidate[] = [];
  while (pop.length < P) {
    const c = await score(random());
    if (c && !pop.includes(c)) pop.push(c);
  }
  for (let gen = 1; gen < G; gen++) {
    pop.sort((a, b) => b.accuracy - a.accuracy || b.speedup - a.speedup);
    const parents = pop.slice(0, K);
    const next = [...parents];
    let tries = 0;
    while (next.length < P && tries++ < P * 20) {
      let child: number[];
      if (rng.next() < 0.5) {
        const r = ratios(parents[rng.int(K)]!.config).map((x) => (rng.next() < mp ? 1 - rng.next() * 0.6 : x));
        child = fromRatios(r);
      } else {
        const a = ratios(parents[rng.int(K)]!.config);
        const b2 = ratios(parents[rng.int(K)]!.config);
        child = fromRatios(a.map((x, i) => (rng.next() < 0.5 ? x : b2[i]!)));
      }
      const c = await score(child);
      if (c && !next.includes(c)) next.push(c);
    }
    pop = next;
  }
  const evaluated = [...seen.values()];
  const best = evaluated.reduce((a, b) => (b.accuracy > a.accuracy || (b.accuracy === a.accuracy && b.speedup > a.speedup) ? b : a));
  return { best, evaluated };
}
