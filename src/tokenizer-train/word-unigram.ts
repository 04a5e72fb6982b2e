// A word-level SentencePiece-Unigram tokenizer.json in T5's form: <pad>=0, </s>=1, <unk>=2, one
// "▁word" piece per word, Metaspace pre-tokenizer, and the `$A </s>` post-processor T5's
// tokenizer uses. For synthetic seq2seq tasks (bench/t5-seq2seq.ts) and tiny T5 test models.
export function wordUnigramTokenizerJson(words: readonly string[]): string {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const eos = { SpecialToken: { id: '</s>', type_id: 0 } };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, eos],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, eos, { Sequence: { id: 'B', type_id: 0 } }, eos],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    // Scores fall slowly with the index so segmentation is deterministic.
    model: { type: 'Unigram', unk_id: 2, vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ...words.map((w, i) => [`\u2581${w}`, -1 - i * 0.01])], byte_fallback: false },
  });
}

export const T5_TOKENIZER_CONFIG_JSON = JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 512, tokenizer_class: 'T5Tokenizer' });
