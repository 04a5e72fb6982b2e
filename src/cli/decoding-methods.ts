// Decoding methods that combine models, as CLI options shared by generate, chat and bench:
//   --draft <model>          speculative decoding with a small draft model
//   --lookup                 prompt-lookup decoding (drafts copied from the prompt)
//   --eft-ft <m> --eft-ref <m> [--eft-weight w]   EFT logit arithmetic (repeatable pairs)
// The target is then either one model or an EFT combination; generation is either plain or
// speculative. Library code: src/methods/{speculative,eft}.
import type { OptionSpec } from './command.ts';
import { SlmError } from '../errors.ts';
import { generate, type GenerateOptions } from '../generate/generate.ts';
import type { Generation } from '../generate/generation.ts';
import type { GenerateResult } from '../generate/sequence-run.ts';
import type { TextCodec } from '../generate/text-codec.ts';
import type { DecoderSession, GenerationStep } from '../generate/types.ts';
import { loadCausalLM, type CausalLM, type LoadModelOptions } from '../models/load.ts';
import { EftModel, loadEft, type EftPair } from '../methods/eft/index.ts';
import { assertSharedVocabulary } from '../methods/shared-vocabulary.ts';
import { ModelDraft, PromptLookupDraft, speculativeGenerate, type DraftSource, type SpeculativeStats } from '../methods/speculative/index.ts';
import { Rng } from '../util/rng.ts';
import { resolveModelArgument } from './resolve-model.ts';

export const DECODING_METHOD_OPTIONS: Record<string, OptionSpec> = {
  draft: { type: 'string', valueName: 'model', description: 'speculative decoding: a small model (same tokenizer) drafts, the model verifies; output as without it' },
  lookup: { type: 'boolean', description: 'prompt-lookup decoding: drafts copied from n-gram matches in the prompt and the text so far' },
  'draft-tokens': { type: 'string', valueName: 'k', description: 'draft tokens per block to start with (default 5; adapts up to 16)' },
  'eft-ft': { type: 'string', multiple: true, valueName: 'model', description: 'EFT: a small fine-tuned model whose delta (ft - ref) is added to the model\'s logits; repeatable' },
  'eft-ref': { type: 'string', multiple: true, valueName: 'model', description: 'EFT: the base the matching --eft-ft was fine-tuned from; repeatable, one per --eft-ft' },
  'eft-weight': { type: 'string', multiple: true, valueName: 'w', description: 'EFT: weight of the matching pair (default 1 = up-scaling)' },
};

type Flags = Record<string, unknown>;

/** What a command generates from: one model or an EFT combination, with the same surface. */
export type DecodingTarget = Pick<CausalLM, 'tokenizer' | 'eosIds' | 'context' | 'vocabSize'> & {
  createSession(): DecoderSession;
  dispose(): Promise<void>;
};

const list = (v: unknown) => (v === undefined ? [] : (v as string[]));

async function modelPath(arg: string): Promise<string> {
  return (await resolveModelArgument([arg], { textAllowed: false })).model;
}

/** The EFT pairs of --eft-ft / --eft-ref / --eft-weight, with model arguments resolved. */
export async function eftPairsFromFlags(flags: Flags): Promise<EftPair[]> {
  const ft = list(flags['eft-ft']);
  const ref = list(flags['eft-ref']);
  const weights = list(flags['eft-weight']).map(Number);
  if (ft.length !== ref.length) throw new SlmError('INVALID_ARGUMENT', `--eft-ft and --eft-ref come in pairs: got ${ft.length} and ${ref.length}`);
  if (weights.length > ft.length || weights.some((w) => !Number.isFinite(w))) throw new SlmError('INVALID_ARGUMENT', '--eft-weight takes one finite number per --eft-ft pair');
  const pairs: EftPair[] = [];
  for (let i = 0; i < ft.length; i++) pairs.push({ ft: await modelPath(ft[i]), ref: await modelPath(ref[i]), weight: weights[i] ?? 1 });
  return pairs;
}

/** Loads the model, or the EFT combination when --eft-ft/--eft-ref are given. */
export async function loadDecodingTarget(model: string, flags: Flags, opts: LoadModelOptions, adapter?: LoadModelOptions['adapter']): Promise<DecodingTarget> {
  const pairs = await eftPairsFromFlags(flags);
  if (pairs.length === 0) return loadCausalLM(model, { ...opts, adapter });
  if (adapter) throw new SlmError('INVALID_ARGUMENT', '--lora cannot be combined with --eft-ft: merge the adapter into a model first (slm merge) and give that as --eft-ft');
  return loadEft(model, pairs, opts) as Promise<EftModel>;
}

/** The EFT options alone. */
export const EFT_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(Object.entries(DECODING_METHOD_OPTIONS).filter(([k]) => k.startsWith('eft-')));

/** What slm serve takes: every method, applied to every request. */
export const SERVE_METHOD_OPTIONS: Record<string, OptionSpec> = {
  ...DECODING_METHOD_OPTIONS,
  draft: { ...DECODING_METHOD_OPTIONS.draft!, description: 'speculative decoding for every request: a small model (same tokenizer) drafts, the model verifies; outputs as without it' },
  lookup: { ...DECODING_METHOD_OPTIONS.lookup!, description: 'prompt-lookup decoding for every request (drafts copied from the prompt and the text so far)' },
};

/** --draft / --lookup / --draft-tokens for slm serve, the draft model resolved like any <model>. */
export async function speculationFromFlags(flags: Flags): Promise<{ draft?: string; lookup?: boolean; draftTokens?: number }> {
  const draftArg = flags.draft as string | undefined;
  if (draftArg !== undefined && flags.lookup) throw new SlmError('INVALID_ARGUMENT', 'give either --draft or --lookup, not both');
  const k = flags['draft-tokens'] === undefined ? undefined : Number(flags['draft-tokens']);
  if (k !== undefined && !(Number.isInteger(k) && k >= 1 && k <= 64)) throw new SlmError('INVALID_ARGUMENT', `--draft-tokens must be an integer in 1..64, got ${flags['draft-tokens']}`);
  return { draft: draftArg === undefined ? undefined : await modelPath(draftArg), lookup: !!flags.lookup, draftTokens: k };
}

export interface MethodGeneration {
  generation: Generation<GenerationStep, GenerateResult & { speculative?: SpeculativeStats }>;
  dispose(): Promise<void>;
}

/** Plain generation, or speculative decoding when --draft/--lookup is given. */
export async function startGeneration(
  target: DecodingTarget,
  codec: TextCodec,
  ids: number[],
  opts: GenerateOptions,
  flags: Flags,
  loadOpts: LoadModelOptions,
): Promise<MethodGeneration> {
  const session = target.createSession();
  const draftArg = flags.draft as string | undefined;
  if (draftArg !== undefined && flags.lookup) throw new SlmError('INVALID_ARGUMENT', 'give either --draft or --lookup, not both');
  if (draftArg === undefined && !flags.lookup) return { generation: generate(session, codec, ids, opts), dispose: () => session.dispose() };
  const k = flags['draft-tokens'] === undefined ? undefined : Number(flags['draft-tokens']);
  if (k !== undefined && !(Number.isInteger(k) && k >= 1 && k <= 64)) throw new SlmError('INVALID_ARGUMENT', `--draft-tokens must be an integer in 1..64, got ${flags['draft-tokens']}`);
  let draft: DraftSource;
  let draftModel: CausalLM | undefined;
  let ownsDraft = true;
  if (draftArg !== undefined) {
    const path = await modelPath(draftArg);
    // EFT's speculative variant: the small fine-tuned model, already loaded, drafts.
    const reused = target instanceof EftModel ? target.modelAt(path) : undefined;
    ownsDraft = reused === undefined;
    draftModel = reused ?? (await loadCausalLM(path, loadOpts));
    assertSharedVocabulary(
      [
        { name: 'the model', vocabSize: target.vocabSize, tokenizer: target.tokenizer },
        { name: path, vocabSize: draftModel.vocabSize, tokenizer: draftModel.tokenizer },
      ],
      '--draft',
    );
    draft = new ModelDraft(draftModel.createSession(), opts, new Rng(opts.seed ?? 0));
  } else draft = new PromptLookupDraft();
  return {
    generation: speculativeGenerate(session, draft, codec, ids, { ...opts, draftTokens: k }),
    async dispose() {
      await session.dispose();
      await draft.dispose();
      if (ownsDraft) await draftModel?.dispose();
    },
  };
}
