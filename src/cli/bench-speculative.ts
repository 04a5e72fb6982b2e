// `slm bench --draft <model>` / `--lookup`: greedy generation of the same prompt with and
// without speculative decoding, in one process, alternating (plain, speculative) for each
// repeat after one warm-up of each, so host noise hits both alike; medians reported.
import { SlmError, throwIfAborted } from '../errors.ts';
import { generateText } from '../generate/generate.ts';
import { codecFromTokenizer } from '../generate/text-codec.ts';
import { loadCausalLM, type LoadModelOptions } from '../models/load.ts';
import { assertSharedVocabulary } from '../methods/shared-vocabulary.ts';
import { ModelDraft, PromptLookupDraft, speculativeGenerate } from '../methods/speculative/index.ts';
import { Rng } from '../util/rng.ts';

export interface SpeculativeBenchResult {
  plain_tok_s: number;
  speculative_tok_s: number;
  speedup: number;
  /** Draft tokens accepted / proposed, over all timed runs. */
  acceptance_rate: number;
  /** Generated tokens per target verification step. */
  tokens_per_target_step: number;
  /** Whether the speculative output equalled the plain greedy output in every run. */
  identical_output: boolean;
  runs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function benchSpeculative(
  targetPath: string,
  o: { draft?: string; lookup?: boolean; prompt: string; genTokens: number; repeats: number; load: LoadModelOptions; signal?: AbortSignal },
): Promise<SpeculativeBenchResult> {
  const target = await loadCausalLM(targetPath, o.load);
  const draftModel = o.draft ? await loadCausalLM(o.draft, o.load) : undefined;
  try {
    if (draftModel) {
      assertSharedVocabulary(
        [
          { name: targetPath, vocabSize: target.vocabSize, tokenizer: target.tokenizer },
          { name: o.draft!, vocabSize: draftModel.vocabSize, tokenizer: draftModel.tokenizer },
        ],
        '--draft',
      );
    }
    const codec = codecFromTokenizer(target.tokenizer, target.eosIds);
    const ids = target.tokenizer.encode(o.prompt);
    if (ids.length + o.genTokens > target.context) throw new SlmError('INVALID_ARGUMENT', `prompt (${ids.length} tokens) + --gen-tokens exceed the context (${target.context})`);
    // Stop ids off, so every run generates exactly genTokens tokens.
    const opts = { temperature: 0, maxTokens: o.genTokens, stopTokenIds: [], signal: o.signal };
    const session = target.createSession();
    const draftSession = draftModel?.createSession();
    const plain: number[] = [];
    const spec: number[] = [];
    let proposed = 0;
    let accepted = 0;
    let steps = 0;
    let identical = true;
    for (let r = 0; r <= o.repeats; r++) {
      throwIfAborted(o.signal);
      session.truncate(0, 0);
      let t = performance.now();
      const a = await generateText(session, codec, ids, opts);
      const plainS = (performance.now() - t) / 1000;
      session.truncate(0, 0);
      draftSession?.truncate(0, 0);
      const draft = draftSession ? new ModelDraft(draftSession, { temperature: 0 }, new Rng(r)) : new PromptLookupDraft();
      t = performance.now();
      const b = await speculativeGenerate(session, draft, codec, ids, opts).done();
      const specS = (performance.now() - t) / 1000;
      if (r === 0) continue; // warm-up of both
      plain.push(a.tokens.length / plainS);
      spec.push(b.tokens.length / specS);
      proposed += b.speculative.proposed;
      accepted += b.speculative.accepted;
      steps += b.speculative.targetCalls;
      identical &&= a.tokens.join() === b.tokens.join();
    }
    await session.dispose();
    await draftSession?.dispose();
    const p = median(plain);
    const s = median(spec);
    return {
      plain_tok_s: p,
      speculative_tok_s: s,
      speedup: s / p,
      acceptance_rate: proposed ? accepted / proposed : 0,
      tokens_per_target_step: steps ? (o.genTokens * o.repeats) / steps : 0,
      identical_output: identical,
      runs: o.repeats,
    };
  } finally {
    await target.dispose();
    await draftModel?.dispose();
  }
}
