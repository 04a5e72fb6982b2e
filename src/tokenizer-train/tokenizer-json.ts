// Serialises a trained byte-level BPE as a standard HF `tokenizer.json` (the layout HF
// `tokenizers` writes for ByteLevelBPETokenizer / GPT-2), loadable by @huggingface/tokenizers,
// transformers and llama.cpp's converters.
import type { TrainedBpe } from './bpe-trainer.ts';

export interface TokenizerJsonOptions {
  /** Prepend a space to the first word (GPT-2 and RoBERTa: false). */
  addPrefixSpace?: boolean;
}

/** The tokenizer.json text, one vocab entry / merge per line so diffs stay readable. */
export function tokenizerJsonText(model: TrainedBpe, opts: TokenizerJsonOptions = {}): string {
  const addPrefixSpace = opts.addPrefixSpace ?? false;
  const specials = new Set(model.specialTokens);
  const addedTokens = model.vocab
    .map((content, id) => ({ id, content }))
    .filter((t) => specials.has(t.content))
    .map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const head = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  };
  const headText = JSON.stringify(head, null, 2);
  const modelHead = [
    '    "type": "BPE"',
    '    "dropout": null',
    '    "unk_token": null',
    '    "continuing_subword_prefix": null',
    '    "end_of_word_suffix": null',
    '    "fuse_unk": false',
    '    "byte_fallback": false',
    '    "ignore_merges": false',
  ];
  const vocabLines = model.vocab.map((tok, id) => `      ${JSON.stringify(tok)}: ${id}`);
  const mergeLines = model.merges.map(([a, b]) => `      ${JSON.stringify([a, b])}`);
  const modelText = [
    '  "model": {',
    modelHead.join(',\n') + ',',
    '    "vocab": {',
    vocabLines.join(',\n'),
    '    },',
    '    "merges": [',
    mergeLines.join(',\n'),
    '    ]',
    '  }',
  ].join('\n');
  return headText.slice(0, headText.lastIndexOf('}')).trimEnd() + ',\n' + modelText + '\n}\n';
}

/**
 * The companion tokenizer_config.json. clean_up_tokenization_spaces is false because the
 * cleanup ("a ." → "a.") would break exact encode → decode round trips.
 */
export function tokenizerConfigJsonText(model: TrainedBpe, eosToken?: string): string {
  const eos = eosToken ?? model.specialTokens[0];
  const cfg: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000_000,
  };
  if (eos !== undefined) {
    cfg.bos_token = eos;
    cfg.eos_token = eos;
  }
  return JSON.stringify(cfg, null, 2) + '\n';
}
