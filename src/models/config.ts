// Parsing Hugging Face config.json files with zod: unknown keys are ignored (as
// transformers' from_dict does), missing keys take the transformers defaults, and a
// wrong type names the file and the key.

import { z } from 'zod';
import { FormatError } from '../errors.ts';

export function parseHfConfig<S extends z.ZodType>(schema: S, json: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new FormatError(file, issue.path.join('.') || undefined, issue.message);
  }
  return r.data;
}

/**
 * config.json fields every decoder shares (sizes, tying, special ids), for `z.object({...})`
 * spreads; an architecture adds its own fields and defaults.
 */
export const DECODER_CONFIG_FIELDS = {
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  pad_token_id: z.number().int().nullable().optional(),
};

/** The special ids as config.json writes them (null when absent). */
export function specialIdsToHf(c: { bosTokenId?: number | null; eosTokenId?: number | number[] | null; padTokenId?: number | null }) {
  return { bos_token_id: c.bosTokenId ?? null, eos_token_id: c.eosTokenId ?? null, pad_token_id: c.padTokenId ?? null };
}

/** Shared fields of the parsed decoder configs. */
export interface DecoderSizes {
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  tieWordEmbeddings: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
}

/** The DecoderSizes part of a parsed config, from the DECODER_CONFIG_FIELDS part of its config.json. */
export function decoderSizesFromHf(j: { vocab_size: number; hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads?: number | null; tie_word_embeddings: boolean; bos_token_id?: number | null; eos_token_id?: number | number[] | null; pad_token_id?: number | null }): DecoderSizes {
  return {
    vocabSize: j.vocab_size,
    hidden: j.hidden_size,
    intermediate: j.intermediate_size,
    layers: j.num_hidden_layers,
    heads: j.num_attention_heads,
    kvHeads: j.num_key_value_heads ?? j.num_attention_heads,
    tieWordEmbeddings: j.tie_word_embeddings,
    bosTokenId: j.bos_token_id,
    eosTokenId: j.eos_token_id,
    padTokenId: j.pad_token_id,
  };
}

/** config.json fields of DecoderSizes (the inverse of decoderSizesFromHf). */
export function decoderSizesToHf(c: DecoderSizes) {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hidden,
    intermediate_size: c.intermediate,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    tie_word_embeddings: c.tieWordEmbeddings,
    ...specialIdsToHf(c),
  };
}

/**
 * Token ids that end generation, as transformers picks them: generation_config.json's
 * eos_token_id (a number or a list), else the model config's, else the tokenizer's EOS.
 */
export function stopTokenIds(generationConfig: { eos_token_id?: unknown }, modelConfig: unknown, tokenizerEosId: number | undefined): number[] {
  const ids = new Set<number>();
  const add = (v: unknown) => {
    if (typeof v === 'number') ids.add(v);
    else if (Array.isArray(v)) v.forEach(add);
  };
  add(generationConfig.eos_token_id);
  if (ids.size === 0) add((modelConfig as { eosTokenId?: unknown }).eosTokenId);
  if (ids.size === 0 && tokenizerEosId !== undefined) ids.add(tokenizerEosId);
  return [...ids];
}
