// Text → encoder rows: special tokens as the model's tokenizer puts them ([CLS] A [SEP] /
// <s> A </s>, pairs per architecture), the position-table limit (an error, or truncation with
// a warning), the one mask token of a fill-mask text, and right-padded batch feeds.
import type { HostTensor } from '../ir/dtype.ts';
import type { HfTokenizer } from '../tokenizer/index.ts';
import type { MaskedLMArch } from './roberta.ts';
import type { EncoderConfig } from './encoder-config.ts';
import { tokenContent } from '../tokenizer/tokenizer-json.ts';
import { SlmError } from '../errors.ts';

/** A text, or a sentence pair as the HF pipelines take it. */
export type EncoderText = string | { text: string; text_pair?: string };

export interface EncoderRow {
  ids: number[];
  /** Segment ids (BERT pairs); null: all 0. */
  types: number[] | null;
}

const MASK_SPELLINGS = ['<mask>', '[MASK]'];

export class EncoderInputs {
  readonly maxLength: number;
  private readonly cls: number | undefined;
  private readonly sep: number | undefined;

  constructor(
    private readonly arch: MaskedLMArch<EncoderConfig>,
    private readonly config: EncoderConfig,
    private readonly tok: HfTokenizer,
    private readonly o: { truncate: boolean; onWarning?: (m: string) => void },
  ) {
    this.maxLength = arch.maxPositions(config);
    // What the tokenizer's post-processor puts around a text: [CLS] … [SEP] / <s> … </s>.
    const around = tok.encode('', { addSpecialTokens: true });
    this.cls = around.length >= 1 ? around[0] : undefined;
    this.sep = around.length >= 2 ? around.at(-1) : undefined;
  }

  /** The tokens of one text or pair, with special tokens, fitted to the position table. */
  encode(x: EncoderText): EncoderRow {
    const text = typeof x === 'string' ? x : x.text;
    const pair = typeof x === 'string' ? undefined : x.text_pair;
    if (typeof text !== 'string' || (pair !== undefined && typeof pair !== 'string')) throw new SlmError('INVALID_ARGUMENT', 'an input must be a string or {text, text_pair} with string fields');
    if (pair === undefined) {
      let ids = this.tok.encode(text, { addSpecialTokens: true });
      if (ids.length > this.maxLength) {
        this.tooLong(ids.length);
        const head = this.cls !== undefined && ids[0] === this.cls ? 1 : 0;
        const tail = this.sep !== undefined && ids.at(-1) === this.sep ? 1 : 0;
        ids = [...ids.slice(0, this.maxLength - tail), ...ids.slice(ids.length - tail)];
        if (head && ids[0] !== this.cls) ids[0] = this.cls!;
      }
      return { ids, types: null };
    }
    if (this.cls === undefined || this.sep === undefined) throw new SlmError('UNSUPPORTED', 'this tokenizer adds no [CLS]/[SEP] tokens, so it cannot encode sentence pairs');
    let a = this.tok.encode(text, { addSpecialTokens: false });
    let b = this.tok.encode(pair, { addSpecialTokens: false });
    const extra = this.arch.pairIds([], [], this.cls, this.sep).ids.length;
    if (a.length + b.length + extra > this.maxLength) {
      this.tooLong(a.length + b.length + extra);
      // longest_first, as transformers truncates pairs
      while (a.length + b.length + extra > this.maxLength) {
        if (a.length >= b.length) a = a.slice(0, -1);
        else b = b.slice(0, -1);
      }
    }
    const r = this.arch.pairIds(a, b, this.cls, this.sep);
    if (r.types && Math.max(...r.types) >= this.config.typeVocabSize) throw new SlmError('UNSUPPORTED', `this model has ${this.config.typeVocabSize} token type(s): it cannot take sentence pairs`);
    return r;
  }

  private tooLong(n: number): void {
    const msg = `an input has ${n} tokens but the model's position table holds ${this.maxLength}`;
    if (!this.o.truncate) throw new SlmError('INVALID_ARGUMENT', `${msg}; shorten it or truncate (--truncate / truncate: true)`);
    this.o.onWarning?.(`${msg}: truncated to ${this.maxLength}`);
  }

  /** A fill-mask text: exactly one mask token (the model's own, or "<mask>" / "[MASK]"). */
  encodeMasked(text: string): EncoderRow & { maskAt: number } {
    const maskToken = tokenContent(this.tok.config.mask_token) ?? MASK_SPELLINGS.find((m) => this.tok.tokenToId(m) !== undefined);
    const maskId = maskToken === undefined ? undefined : this.tok.tokenToId(maskToken);
    if (maskToken === undefined || maskId === undefined) throw new SlmError('UNSUPPORTED', 'this tokenizer has no mask token');
    // Accept the other family's spelling too ("[MASK]" for RoBERTa, "<mask>" for BERT).
    let t = text;
    for (const m of MASK_SPELLINGS) if (m !== maskToken) t = t.split(m).join(maskToken);
    const row = this.encode(t);
    const at = row.ids.flatMap((id, i) => (id === maskId ? [i] : []));
    if (at.length !== 1) throw new SlmError('INVALID_ARGUMENT', at.length === 0 ? `no mask token in the text: put exactly one ${maskToken} where a word should be predicted` : `the text has ${at.length} mask tokens; fill-mask takes exactly one ${maskToken}`);
    return { ...row, maskAt: at[0]! };
  }

  /** Token ids given directly (already with special tokens): checked against the vocabulary and the table. */
  checkIds(ids: readonly number[]): EncoderRow {
    if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', 'an input has no tokens');
    for (const t of ids) if (!Number.isInteger(t) || t < 0 || t >= this.config.vocabSize) throw new SlmError('INVALID_ARGUMENT', `token id ${t} is outside the vocabulary [0, ${this.config.vocabSize})`);
    if (ids.length > this.maxLength) {
      this.tooLong(ids.length);
      return { ids: ids.slice(0, this.maxLength), types: null };
    }
    return { ids: [...ids], types: null };
  }

  /** Right-padded int64 feeds for a batch of rows. */
  feeds(rows: readonly EncoderRow[]): Record<string, HostTensor> {
    return encoderFeeds(this.arch, this.config, rows, Math.max(...rows.map((r) => r.ids.length)));
  }
}

/** Int64 feeds (input_ids, position_ids, attention_mask, token_type_ids) of rows right-padded to `seq`. */
export function encoderFeeds(arch: MaskedLMArch<EncoderConfig>, config: EncoderConfig, rows: readonly EncoderRow[], seq: number, batch = rows.length): Record<string, HostTensor> {
  const B = batch;
  const S = seq;
  const padId = arch.padTokenId(config);
  const ids = new Array<number>(B * S).fill(padId);
  const mask = new BigInt64Array(B * S);
  const types = new BigInt64Array(B * S);
  rows.forEach((r, b) => {
    r.ids.forEach((id, j) => {
      ids[b * S + j] = id;
      mask[b * S + j] = 1n;
      types[b * S + j] = BigInt(r.types?.[j] ?? 0);
    });
  });
  // The arch's position rule sees padding as padId; a real token equal to padId would be
  // miscounted by RoBERTa's rule, so only masked slots carry padId.
  const marked = ids.map((id, i) => (mask[i] ? (id === padId ? -1 : id) : padId));
  const shape = [B, S];
  return {
    input_ids: { dtype: 'int64', shape, data: BigInt64Array.from(ids, BigInt) },
    position_ids: { dtype: 'int64', shape, data: arch.positionIds(marked, B, S, config) },
    attention_mask: { dtype: 'int64', shape, data: mask },
    token_type_ids: { dtype: 'int64', shape, data: types },
  };
}
