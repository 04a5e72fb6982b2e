// Converts a SentencePiece vocabulary (from tokenizer.model or GGUF `llama`/`t5` metadata)
// into the tokenizer.json form that @huggingface/tokenizers runs — the same shapes
// transformers' slow->fast converters produce (Llama: BPE + byte fallback; T5: Unigram).
import { FormatError } from '../errors.ts';
import { PieceType, type SpmModel, type SpmPiece } from './sentencepiece-model.ts';
import type { AddedTokenJson, TokenizerJson } from './tokenizer-json.ts';

export type SpmVocab = Pick<
  SpmModel,
  'pieces' | 'modelType' | 'byteFallback' | 'unkId' | 'normalizerName' | 'precompiledCharsmap' | 'addDummyPrefix' | 'removeExtraWhitespaces'
>;

const SPACE = '\u2581'; // "▁", SentencePiece's visible space

export function spmToTokenizerJson(spm: SpmVocab, file: string): TokenizerJson {
  const { pieces } = spm;
  if (spm.unkId < 0 || spm.unkId >= pieces.length) {
    throw new FormatError(file, 'unk_id', `unknown-token id ${spm.unkId} outside 0..${pieces.length - 1}`);
  }
  const added_tokens = addedTokensOf(pieces);
  const normalizers = textNormalizers(spm);
  if (spm.modelType === 'bpe') {
    // Llama-style: no pre-tokenizer; spaces become "▁" (plus one leading "▁") in the normalizer.
    if (spm.addDummyPrefix) normalizers.push({ type: 'Prepend', prepend: SPACE });
    normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: SPACE });
    const vocab: Record<string, number> = Object.create(null);
    pieces.forEach((p, id) => {
      if (!(p.piece in vocab)) vocab[p.piece] = id;
    });
    const decoders: Record<string, unknown>[] = [
      { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
    ];
    if (spm.addDummyPrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
    return {
      version: '1.0',
      added_tokens,
      normalizer: sequence(normalizers),
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Sequence', decoders },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: pieces[spm.unkId].piece,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: spm.byteFallback,
        ignore_merges: false,
        vocab,
        merges: mergesFromScores(pieces),
      },
    };
  }
  // Unigram (T5-style). @huggingface/tokenizers' Unigram has no byte fallback: with a
  // byte-fallback Unigram vocabulary, characters outside the vocab encode as <unk>.
  return {
    version: '1.0',
    added_tokens,
    normalizer: sequence(normalizers),
    pre_tokenizer: { type: 'Metaspace', replacement: SPACE, prepend_scheme: spm.addDummyPrefix ? 'always' : 'never', split: false },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: SPACE, prepend_scheme: spm.addDummyPrefix ? 'always' : 'never', split: false },
    model: {
      type: 'Unigram',
      unk_id: spm.unkId,
      vocab: pieces.map((p) => [p.piece, p.score] as [string, number]),
    },
  };
}

/**
 * Control/unknown pieces become special added tokens (so "<s>" in a rendered chat template
 * maps to the BOS id, as with transformers) and user-defined pieces non-special added
 * tokens (SentencePiece matches them verbatim before segmentation).
 */
function addedTokensOf(pieces: readonly SpmPiece[]): AddedTokenJson[] {
  const out: AddedTokenJson[] = [];
  pieces.forEach((p, id) => {
    const special = p.type === PieceType.CONTROL || p.type === PieceType.UNKNOWN;
    if (!special && p.type !== PieceType.USER_DEFINED) return;
    if (p.piece === '') return;
    out.push({ id, content: p.piece, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  });
  return out;
}

function textNormalizers(spm: SpmVocab): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const name = spm.normalizerName;
  if (name === 'nfkc' || name === 'nfkc_cf') out.push({ type: 'NFKC' });
  else if (name.startsWith('nmt_nfkc') || (name !== 'identity' && spm.precompiledCharsmap)) {
    // The library approximates the charsmap with NMT rules + NFKC (it does not run the trie).
    out.push({ type: 'Precompiled', precompiled_charsmap: spm.precompiledCharsmap ? base64(spm.precompiledCharsmap) : '' });
  }
  if (name.endsWith('_cf')) out.push({ type: 'Lowercase' });
  if (spm.removeExtraWhitespaces) {
    out.push({ type: 'Strip', strip_left: true, strip_right: true });
    out.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  }
  return out;
}

function sequence(normalizers: Record<string, unknown>[]): Record<string, unknown> | null {
  if (normalizers.length === 0) return null;
  if (normalizers.length === 1) return normalizers[0];
  return { type: 'Sequence', normalizers };
}

/**
 * SentencePiece BPE merges the adjacent pair whose concatenation is the highest-scoring
 * piece. A rank-ordered merge list reproduces that: every split of every normal piece into
 * two normal pieces, ordered by the merged piece's score (best first). Pieces are split by
 * code point, as the BPE model splits words.
 */
export function mergesFromScores(pieces: readonly SpmPiece[]): [string, string][] {
  const normal = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (p.type === PieceType.NORMAL && !normal.has(p.piece)) normal.set(p.piece, id);
  });
  // Sort the (fewer) pieces rather than the merges: best score first, ties by id; the
  // splits of one piece are ordered by left then right id.
  const order = [...normal.values()].sort((a, b) => pieces[b].score - pieces[a].score || a - b);
  const merges: [string, string][] = [];
  const splits: { left: string; right: string; leftId: number; rightId: number }[] = [];
  for (const id of order) {
    const piece = pieces[id].piece;
    splits.length = 0;
    let cut = 0;
    for (const ch of piece) {
      cut += ch.length;
      if (cut >= piece.length) break;
      const left = piece.slice(0, cut);
      const leftId = normal.get(left);
      if (leftId === undefined) continue;
      const right = piece.slice(cut);
      const rightId = normal.get(right);
      if (rightId !== undefined) splits.push({ left, right, leftId, rightId });
    }
    if (splits.length > 1) splits.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    for (const s of splits) merges.push([s.left, s.right]);
  }
  return merges;
}

/** Standard base64 of bytes, with btoa rather than Buffer: this module also runs in a page (src/web). */
function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
