// The one rule for `<model>` in every command that takes one (generate, chat, serve):
//
//   1. an existing file or folder is the model (a LoRA adapter folder is refused with what to
//      do instead: --lora or `slm merge`);
//   2. else a model in the local cache, when the argument names one (`org/name`: HUB LOOKUP
//      below — src/hub plugs in there);
//   3. else, when the argument looks like a model (a path or an org/name) or the command takes
//      no text, an error naming both possibilities;
//   4. else no model was named: the default model, and every positional is text.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SlmError } from '../errors.ts';
import { defaultModelPath } from './generation-options.ts';
import type { OptionSpec } from './command.ts';
import { cachedSnapshot, looksLikeRepoId, pull } from '../hub/index.ts';

/** Resolves `org/name[@revision]` to a local model path, or undefined when it is not cached. */
export type CachedModelLookup = (arg: string) => Promise<string | undefined> | string | undefined;

/**
 * The local model cache: the Hugging Face hub cache (HF_HUB_CACHE) that `slm pull` and Python's
 * huggingface_hub fill. Replaceable for tests.
 */
const hubCacheLookup: CachedModelLookup = (arg) => (looksLikeRepoId(arg) ? cachedSnapshot(arg)?.path : undefined);
let cachedModelLookup: CachedModelLookup = hubCacheLookup;

export function setCachedModelLookup(lookup: CachedModelLookup | undefined): void {
  cachedModelLookup = lookup ?? hubCacheLookup;
}

/** `--pull`: download an `org/name` model that is not in the cache (commands that take a model). */
export const PULL_OPTION: Record<string, OptionSpec> = {
  pull: { type: 'boolean', description: 'download an org/name model from the Hugging Face Hub when it is not in the cache' },
};

/** `org/name` or `org/name@rev`, as the Hugging Face Hub spells repository ids. */
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;
/** A single word with a path separator or a checkpoint extension: meant as a model, not text. */
function looksLikeModel(arg: string): boolean {
  if (/\s/.test(arg) || arg === '') return false;
  return REPO_ID.test(arg) || /[/\\]/.test(arg) || /^[.~]/.test(arg) || /\.(gguf|safetensors|bin|json)$/i.test(arg);
}

/** A PEFT adapter folder: adapter_config.json, no config.json of its own. */
export function isAdapterFolder(path: string): boolean {
  return existsSync(join(path, 'adapter_config.json')) && !existsSync(join(path, 'config.json'));
}

function notAModel(arg: string, textAllowed: boolean): SlmError {
  return new SlmError(
    'NOT_FOUND',
    `'${arg}' is neither a model file or folder (no such path) nor a model in the local cache (org/name). ` +
      `Give a Hugging Face folder, a .gguf file or a cached org/name (download one with \`slm pull org/name\` or add --pull)${textAllowed ? '; to pass text, use -p TEXT' : ''}.`,
  );
}

export interface ResolvedModelArgument {
  /** Path of the model to load. */
  model: string;
  /** The positionals after the model (all of them when the default model is used). */
  rest: string[];
  /** True when no model was named and the default model is used. */
  isDefault: boolean;
}

/**
 * Splits positionals into the model and the rest. `textAllowed`: the command accepts text
 * positionals (generate without -p), so a first positional that is not a model and does not look
 * like one starts the text.
 */
export async function resolveModelArgument(positionals: readonly string[], opts: { textAllowed: boolean; pull?: boolean; signal?: AbortSignal }): Promise<ResolvedModelArgument> {
  const first = positionals[0];
  if (first !== undefined) {
    if (existsSync(first)) {
      if (statSync(first).isDirectory() && isAdapterFolder(first)) {
        throw new SlmError(
          'INVALID_ARGUMENT',
          `${first} is a LoRA adapter, not a model: give its base model and --lora ${first}, or fold it in once with slm merge <base> ${first} <out>`,
        );
      }
      return { model: first, rest: positionals.slice(1), isDefault: false };
    }
    const cached = REPO_ID.test(first) ? await cachedModelLookup(first) : undefined;
    if (cached !== undefined) return { model: cached, rest: positionals.slice(1), isDefault: false };
    if (opts.pull && looksLikeRepoId(first)) return { model: (await pull(first, { signal: opts.signal })).path, rest: positionals.slice(1), isDefault: false };
    if (!opts.textAllowed || looksLikeModel(first)) throw notAModel(first, opts.textAllowed);
  }
  return { model: defaultModelPath(), rest: [...positionals], isDefault: true };
}
