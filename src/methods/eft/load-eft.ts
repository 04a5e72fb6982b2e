// Loads the models of an EFT combination and checks, before any graph is built for the small
// ones, that they share the base model's vocabulary. A reference model shared by several pairs
// (interpolation between fine-tunes of one base) is loaded once.
import { resolve } from 'node:path';
import { loadCausalLM, type CausalLM, type LoadModelOptions } from '../../models/load.ts';
import { assertSharedVocabulary } from '../shared-vocabulary.ts';
import { CombinedSession } from './combined-session.ts';

export interface EftPair {
  /** The fine-tuned small model (path or folder). */
  ft: string;
  /** The model it was fine-tuned from. */
  ref: string;
  /** Weight of the pair's delta; 1 = EFT up-scaling. */
  weight?: number;
}

export class EftModel {
  constructor(
    readonly base: CausalLM,
    readonly terms: readonly { ft: CausalLM; ref: CausalLM; weight: number }[],
    private readonly owned: readonly CausalLM[],
    private readonly byPath: ReadonlyMap<string, CausalLM> = new Map(),
  ) {}

  /**
   * The loaded model given as `path` (base, fine-tuned or reference), if any: EFT's speculative
   * variant drafts with the fine-tuned model already in memory instead of loading it again.
   */
  modelAt(path: string): CausalLM | undefined {
    return this.byPath.get(resolve(path));
  }

  get tokenizer() {
    return this.base.tokenizer;
  }
  get vocabSize() {
    return this.base.vocabSize;
  }
  get context() {
    return Math.min(this.base.context, ...this.terms.flatMap((t) => [t.ft.context, t.ref.context]));
  }
  get eosIds() {
    return this.base.eosIds;
  }
  get generationConfig() {
    return this.base.generationConfig;
  }

  /** One combined session; each model gets its own KV cache inside it. */
  createSession(): CombinedSession {
    return new CombinedSession(
      this.base.createSession(),
      this.terms.map((t) => ({ ft: t.ft.createSession(), ref: t.ref.createSession(), weight: t.weight })),
    );
  }

  async dispose(): Promise<void> {
    for (const m of this.owned) await m.dispose();
  }
}

export async function loadEft(basePath: string, pairs: readonly EftPair[], opts: LoadModelOptions = {}): Promise<EftModel> {
  const loaded = new Map<string, CausalLM>();
  const load = async (path: string) => {
    let m = loaded.get(resolve(path));
    if (!m) {
      m = await loadCausalLM(path, opts);
      loaded.set(resolve(path), m);
    }
    return m;
  };
  try {
    const base = await load(basePath);
    const terms = [];
    for (const p of pairs) {
      const ft = await load(p.ft);
      const ref = await load(p.ref);
      assertSharedVocabulary(
        [base, ft, ref].map((m, i) => ({ name: [basePath, p.ft, p.ref][i], vocabSize: m.vocabSize, tokenizer: m.tokenizer })),
        'EFT',
      );
      terms.push({ ft, ref, weight: p.weight ?? 1 });
    }
    return new EftModel(base, terms, [...loaded.values()], loaded);
  } catch (e) {
    for (const m of loaded.values()) await m.dispose();
    throw e;
  }
}
