// Builds a tokenizer from the vocabulary metadata of a GGUF file (`tokenizer.ggml.*`).
// This part works on metadata already read (gguf-vocab.ts reads a local file's with
// @huggingface/gguf; the web build uses src/formats/gguf's reader) and stays free of Node
// built-ins: the web bundle imports it.
//
// tokenizer.ggml.model -> slmkit form:
//   llama (SentencePiece BPE, score-ordered merges + byte fallback) -> BPE as for tokenizer.model
//   t5    (SentencePiece Unigram)                                  -> Unigram
//   gpt2  (byte-level BPE with a merge list)                       -> ByteLevel BPE
//   bert  (WordPiece; llama.cpp marks word starts with "▁")        -> WordPiece with "##"
import { FormatError, UnsupportedError } from '../errors.ts';
import { byteLevelBpeJson, ggufPreIgnoresMerges, ggufPreSplitsDigits, splitRegexForGgufPre } from './byte-level-bpe.ts';
import { PieceType, type SpmPiece } from './sentencepiece-model.ts';
import { spmToTokenizerJson } from './spm-convert.ts';
import type { AddedTokenJson, SpecialIds, TokenizerConfig, TokenizerJson } from './tokenizer-json.ts';
import type { TokenizerSource } from './hf-tokenizer.ts';

type Metadata = Record<string, unknown>;

export function tokenizerSourceFromGgufMetadata(md: Metadata, file: string): TokenizerSource {
  const kind = md['tokenizer.ggml.model'];
  if (typeof kind !== 'string') throw new FormatError(file, 'tokenizer.ggml.model', 'missing: this GGUF has no tokenizer');
  const tokens = stringArray(md, 'tokenizer.ggml.tokens', file);
  const n = tokens.length;
  const types = optionalNumberArray(md, 'tokenizer.ggml.token_type', n, file) ?? new Array<number>(n).fill(PieceType.NORMAL);
  const specialIds: SpecialIds = {
    bos: optionalId(md, 'tokenizer.ggml.bos_token_id', n, file),
    eos: optionalId(md, 'tokenizer.ggml.eos_token_id', n, file),
    unk: optionalId(md, 'tokenizer.ggml.unknown_token_id', n, file),
    pad: optionalId(md, 'tokenizer.ggml.padding_token_id', n, file),
  };
  const config: TokenizerConfig = {};
  const addBos = md['tokenizer.ggml.add_bos_token'];
  const addEos = md['tokenizer.ggml.add_eos_token'];
  const addSpace = md['tokenizer.ggml.add_space_prefix'];
  const removeWs = md['tokenizer.ggml.remove_extra_whitespaces'];
  config.chat_template = chatTemplates(md);

  let json: TokenizerJson;
  switch (kind) {
    case 'llama':
    case 't5': {
      const scores = optionalNumberArray(md, 'tokenizer.ggml.scores', n, file);
      if (!scores) throw new FormatError(file, 'tokenizer.ggml.scores', `required for a "${kind}" vocabulary`);
      const pieces: SpmPiece[] = tokens.map((piece, i) => ({ piece, score: scores[i], type: types[i] }));
      const unkId = specialIds.unk ?? tokens.indexOf('<unk>');
      const charsmap = md['tokenizer.ggml.precompiled_charsmap'];
      json = spmToTokenizerJson(
        {
          pieces,
          modelType: kind === 'llama' ? 'bpe' : 'unigram',
          byteFallback: types.includes(PieceType.BYTE),
          unkId: unkId < 0 ? 0 : unkId,
          normalizerName: kind === 't5' && Array.isArray(charsmap) && charsmap.length ? 'nmt_nfkc' : 'identity',
          precompiledCharsmap: Array.isArray(charsmap) && charsmap.length ? Uint8Array.from(charsmap as number[]) : undefined,
          addDummyPrefix: typeof addSpace === 'boolean' ? addSpace : true,
          removeExtraWhitespaces: typeof removeWs === 'boolean' ? removeWs : kind === 't5',
        },
        file,
      );
      // llama.cpp's defaults when the file does not say: SPM adds BOS, T5 (UGM) adds EOS.
      config.add_bos_token = typeof addBos === 'boolean' ? addBos : kind === 'llama';
      config.add_eos_token = typeof addEos === 'boolean' ? addEos : kind === 't5';
      break;
    }
    case 'gpt2': {
      const merges = stringArray(md, 'tokenizer.ggml.merges', file);
      const pre = typeof md['tokenizer.ggml.pre'] === 'string' ? (md['tokenizer.ggml.pre'] as string) : undefined;
      json = byteLevelBpeJson({
        vocab: vocabOf(tokens),
        merges,
        addedTokens: addedTokens(tokens, types),
        splitRegex: splitRegexForGgufPre(pre, file),
        ignoreMerges: ggufPreIgnoresMerges(pre),
        individualDigits: ggufPreSplitsDigits(pre),
      });
      config.add_bos_token = typeof addBos === 'boolean' ? addBos : false;
      config.add_eos_token = typeof addEos === 'boolean' ? addEos : false;
      break;
    }
    case 'bert': {
      json = wordPieceJson(tokens, types, md, file);
      // [CLS] A [SEP] comes from the post-processor unless the file says otherwise.
      if (typeof addBos === 'boolean' && !addBos) json.post_processor = null;
      break;
    }
    default:
      throw new UnsupportedError(`${file}: GGUF tokenizer model "${kind}" is not supported (supported: llama, t5, gpt2, bert)`);
  }
  return { json, config, specialIds, file };
}

function wordPieceJson(tokens: string[], types: number[], md: Metadata, file: string): TokenizerJson {
  // llama.cpp's converter writes word-initial WordPiece tokens as "▁tok" and continuations
  // without their "##"; control tokens ([CLS], [SEP], ...) and bracketed ones are verbatim.
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((t, id) => {
    let piece: string;
    if (types[id] !== PieceType.NORMAL || /^\[.*\]$/.test(t)) piece = t;
    else if (t.startsWith('\u2581')) piece = t.slice(1);
    else piece = `##${t}`;
    if (!(piece in vocab)) vocab[piece] = id;
  });
  const n = tokens.length;
  const cls = optionalId(md, 'tokenizer.ggml.cls_token_id', n, file) ?? tokens.indexOf('[CLS]');
  const sep = optionalId(md, 'tokenizer.ggml.seperator_token_id', n, file) ?? tokens.indexOf('[SEP]');
  const unk = optionalId(md, 'tokenizer.ggml.unknown_token_id', n, file) ?? tokens.indexOf('[UNK]');
  return {
    version: '1.0',
    added_tokens: addedTokens(tokens, types),
    // llama.cpp's WPM tokenizer always lowercases and strips accents, as uncased BERT does.
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: cls >= 0 && sep >= 0 ? { type: 'BertProcessing', cls: [tokens[cls], cls], sep: [tokens[sep], sep] } : null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk >= 0 ? tokens[unk] : '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

function addedTokens(tokens: string[], types: number[]): AddedTokenJson[] {
  const out: AddedTokenJson[] = [];
  tokens.forEach((content, id) => {
    const t = types[id];
    if (t !== PieceType.CONTROL && t !== PieceType.USER_DEFINED && t !== PieceType.UNKNOWN) return;
    if (content === '') return;
    out.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== PieceType.USER_DEFINED });
  });
  return out;
}

function vocabOf(tokens: string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
  });
  return vocab;
}

function chatTemplates(md: Metadata): TokenizerConfig['chat_template'] {
  const named: { name: string; template: string }[] = [];
  const main = md['tokenizer.chat_template'];
  if (typeof main === 'string') named.push({ name: 'default', template: main });
  for (const [k, v] of Object.entries(md)) {
    if (k.startsWith('tokenizer.chat_template.') && typeof v === 'string') named.push({ name: k.slice('tokenizer.chat_template.'.length), template: v });
  }
  return named.length === 0 ? undefined : named;
}

function stringArray(md: Metadata, key: string, file: string): string[] {
  const v = md[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new FormatError(file, key, 'expected an array of strings');
  return v as string[];
}

function optionalNumberArray(md: Metadata, key: string, n: number, file: string): number[] | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number')) {
    throw new FormatError(file, key, `expected ${n} numbers (one per token)`);
  }
  return v as number[];
}

function optionalId(md: Metadata, key: string, n: number, file: string): number | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  const id = typeof v === 'bigint' ? Number(v) : v;
  if (typeof id !== 'number' || !Number.isInteger(id)) throw new FormatError(file, key, 'expected an integer token id');
  // Some converters write -1 (or UINT32_MAX) for "none".
  if (id < 0 || id === 0xffffffff) return undefined;
  if (id >= n) throw new FormatError(file, key, `id ${id} >= token count ${n}`);
  return id;
}
