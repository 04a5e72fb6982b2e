// GPT-2 style byte-level BPE in tokenizer.json form, built from a vocabulary and a merge
// list — from `vocab.json` + `merges.txt` (GPT-2, RoBERTa, CodeGen/phi, LiteLlama) or from
// GGUF `gpt2` metadata.
import { FormatError, UnsupportedError } from '../errors.ts';
import type { AddedTokenJson, TokenizerJson } from './tokenizer-json.ts';

export interface ByteLevelBpeOptions {
  vocab: Record<string, number>;
  /** "a b" strings (merges.txt lines) or [a, b] pairs. */
  merges: (string | [string, string])[];
  addedTokens?: AddedTokenJson[];
  addPrefixSpace?: boolean;
  /** Split regex for models whose pre-tokenizer is not GPT-2's (Llama 3, Qwen2). */
  splitRegex?: string;
  /** RoBERTa-style `<s> A </s>` around every sequence. */
  roberta?: { cls: [string, number]; sep: [string, number] };
  unkToken?: string | null;
  /** A pre-token that is itself in the vocabulary is one token, merges or not (Llama 3). */
  ignoreMerges?: boolean;
  /** Every digit its own pre-token before GPT-2's regex (SmolLM, StarCoder: llama.cpp's `smollm` kind). */
  individualDigits?: boolean;
}

/** Each Unicode digit (\p{N}) its own pre-token: what Digits(individual_digits) does in the Rust library and llama.cpp. */
const DIGIT_SPLIT = { type: 'Split', pattern: { Regex: '\\p{N}' }, behavior: 'Isolated', invert: false };

/**
 * A pre-tokenizer with every `Digits` step rewritten as the equivalent Unicode Split. Rust's
 * `tokenizers` (which published tokenizer.json files are made with) and llama.cpp split on
 * any numeric character; @huggingface/tokenizers' Digits only on ASCII \d, so fullwidth or
 * Arabic-Indic digits would tokenize differently.
 */
export function withUnicodeDigits(pre: unknown): unknown {
  if (pre == null || typeof pre !== 'object') return pre;
  const p = pre as { type?: string; individual_digits?: boolean; pretokenizers?: unknown[] };
  if (p.type === 'Digits') return p.individual_digits ? DIGIT_SPLIT : { ...DIGIT_SPLIT, pattern: { Regex: '\\p{N}+' } };
  if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) return { ...p, pretokenizers: p.pretokenizers.map(withUnicodeDigits) };
  return pre;
}

export function byteLevelBpeJson(o: ByteLevelBpeOptions): TokenizerJson {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: o.addPrefixSpace ?? false, trim_offsets: true, use_regex: o.splitRegex === undefined };
  const pre_tokenizer = o.splitRegex
    ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: o.splitRegex }, behavior: 'Isolated', invert: false }, byteLevel] }
    : o.individualDigits
      ? { type: 'Sequence', pretokenizers: [DIGIT_SPLIT, byteLevel] }
      : byteLevel;
  return {
    version: '1.0',
    added_tokens: o.addedTokens ?? [],
    normalizer: null,
    pre_tokenizer,
    post_processor: o.roberta
      ? { type: 'RobertaProcessing', cls: o.roberta.cls, sep: o.roberta.sep, trim_offsets: true, add_prefix_space: o.addPrefixSpace ?? false }
      : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: o.unkToken ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: o.ignoreMerges ?? false,
      vocab: o.vocab,
      merges: o.merges.map((m) => (typeof m === 'string' ? splitMerge(m) : m)),
    },
  };
}

function splitMerge(line: string): [string, string] {
  const i = line.indexOf(' ');
  return [line.slice(0, i), line.slice(i + 1)];
}

/** Parses merges.txt: optional "#version" header, one "left right" pair per line. */
export function parseMergesTxt(text: string, file: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const sp = line.indexOf(' ');
    if (sp <= 0 || sp === line.length - 1 || line.indexOf(' ', sp + 1) !== -1) {
      throw new FormatError(file, `line ${i + 1}`, `expected "left right", got ${JSON.stringify(line.slice(0, 80))}`);
    }
    out.push([line.slice(0, sp), line.slice(sp + 1)]);
  });
  return out;
}

export function parseVocabJson(text: string, file: string): Record<string, number> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, undefined, `not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError(file, undefined, 'expected an object {token: id}');
  const vocab: Record<string, number> = Object.create(null);
  for (const [k, id] of Object.entries(v)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new FormatError(file, k, `id must be a non-negative integer, got ${String(id)}`);
    vocab[k] = id as number;
  }
  return vocab;
}

// Split regexes of the GGUF `tokenizer.ggml.pre` kinds we can reproduce: GPT-2's regex
// (built into the ByteLevel pre-tokenizer) and the Llama-3 / Qwen2 ones (as their
// tokenizer.json files state them). Any other kind is refused rather than tokenized wrongly.
const GPT2_PRE = new Set(['default', 'gpt-2', 'gpt2', 'phi-2', 'roberta-bpe', 'jina-v2-en', 'poro-chat', 'viking', 'olmo']);
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp kinds that split digits one by one, then apply GPT-2's regex. */
const DIGITS_PRE = new Set(['smollm', 'starcoder', 'refact', 'codeshell']);

/** Whether a `tokenizer.ggml.pre` kind splits every digit before GPT-2's regex (DIGITS_PRE). */
export function ggufPreSplitsDigits(pre: string | undefined): boolean {
  return pre !== undefined && DIGITS_PRE.has(pre);
}

/** undefined = GPT-2's built-in regex (after single digits for DIGITS_PRE kinds). */
export function splitRegexForGgufPre(pre: string | undefined, file: string): string | undefined {
  if (pre === undefined || GPT2_PRE.has(pre) || DIGITS_PRE.has(pre)) return undefined;
  if (pre === 'llama-bpe' || pre === 'llama3' || pre === 'smaug-bpe') return LLAMA3_REGEX;
  if (pre === 'qwen2' || pre === 'deepseek-r1-qwen') return QWEN2_REGEX;
  throw new UnsupportedError(`${file}: GGUF pre-tokenizer "${pre}" is not supported (supported: ${[...GPT2_PRE, ...DIGITS_PRE, 'llama-bpe', 'qwen2'].join(', ')})`);
}

/** Whether llama.cpp tokenizes this pre-tokenizer kind with ignore_merges (its Llama 3 kinds). */
export function ggufPreIgnoresMerges(pre: string | undefined): boolean {
  return pre === 'llama-bpe' || pre === 'llama3' || pre === 'smaug-bpe';
}

/**
 * The GGUF `tokenizer.ggml.pre` for a byte-level BPE tokenizer.json's pre-tokenizer: GPT-2's
 * built-in regex -> gpt-2, Llama 3's split regex -> llama-bpe, Qwen2's -> qwen2; anything else
 * is refused (llama.cpp would tokenize it with another regex).
 */
export function ggufPreForPreTokenizer(preTokenizer: unknown, file: string): string {
  type Pre = { type?: string; use_regex?: boolean; individual_digits?: boolean; pattern?: { Regex?: string } };
  const p = preTokenizer as (Pre & { pretokenizers?: Pre[] }) | null | undefined;
  if (p?.type === 'ByteLevel' && p.use_regex !== false) return 'gpt-2';
  const parts = p?.type === 'Sequence' ? (p.pretokenizers ?? []) : [];
  const singleDigits = (x: Pre) => (x.type === 'Digits' && x.individual_digits) || (x.type === 'Split' && x.pattern?.Regex === DIGIT_SPLIT.pattern.Regex);
  if (parts.length === 2 && singleDigits(parts[0]!) && parts[1]!.type === 'ByteLevel' && parts[1]!.use_regex !== false) return 'smollm';
  const split = parts.find((x) => x.type === 'Split')?.pattern?.Regex;
  if (split === LLAMA3_REGEX) return 'llama-bpe';
  if (split === QWEN2_REGEX) return 'qwen2';
  throw new UnsupportedError(`${file}: GGUF export supports the GPT-2, SmolLM (single digits + GPT-2), Llama 3 and Qwen2 byte-level pre-tokenizers; this tokenizer's is ${JSON.stringify(preTokenizer).slice(0, 200)}`);
}
