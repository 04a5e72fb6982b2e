// PVP → token ids. As the reference (pvp.py) does, each piece of a pattern is tokenized on its
// own and the pieces are concatenated; a piece that follows a space is tokenized as a word
// inside a sentence (RoBERTa's add_prefix_space), so "It was [MASK]" puts the verbalizer's
// " great" token at the mask. The model's special tokens wrap the row (<s> … </s>).
import type { HfTokenizer } from '../../tokenizer/index.ts';
import { tokenContent } from '../../tokenizer/tokenizer-json.ts';
import { SlmError } from '../../errors.ts';
import { applyModifier, parsePattern, type Example, type PvpSet } from './pvp.ts';

export interface PvpRow {
  ids: number[];
  /** Positions of the mask tokens (one for a single-token PVP). */
  masks: number[];
}

/** One PVP bound to a tokenizer: verbalizer token ids, mask count and the row encoder. */
export interface BoundPvp {
  id: number;
  pattern: string;
  labels: string[];
  /** Per label: its verbalizations, each a token sequence. */
  verbalizations: number[][][];
  /** Mask tokens the pattern's slot expands to (the longest verbalization). */
  numMasks: number;
  encode(e: Example, maxLength: number, numMasks?: number): PvpRow;
}

/** The ids of `text` as it reads after a preceding word (leading space) or at the start. */
export function pieceIds(tok: HfTokenizer, text: string): number[] {
  if (!text.startsWith(' ')) return tok.encode(text, { addSpecialTokens: false });
  // Tokenize after a one-letter context and drop the context's tokens: the word-internal form.
  const ctx = tok.encode('x', { addSpecialTokens: false });
  const all = tok.encode('x' + text, { addSpecialTokens: false });
  if (all.length > ctx.length && ctx.every((t, i) => all[i] === t)) return all.slice(ctx.length);
  return tok.encode(text.trimStart(), { addSpecialTokens: false });
}

export function maskId(tok: HfTokenizer): number {
  const name = tokenContent(tok.config.mask_token) ?? ['<mask>', '[MASK]'].find((m) => tok.tokenToId(m) !== undefined);
  const id = name === undefined ? undefined : tok.tokenToId(name);
  if (id === undefined) throw new SlmError('UNSUPPORTED', 'PET needs a tokenizer with a mask token (<mask> or [MASK])');
  return id;
}

export function bindPvps(set: PvpSet, tok: HfTokenizer): BoundPvp[] {
  const mask = maskId(tok);
  const around = tok.encode('', { addSpecialTokens: true });
  const cls = around.length >= 1 ? [around[0]!] : [];
  const sep = around.length >= 2 ? [around.at(-1)!] : [];
  return set.pvps.map((p) => {
    const pieces = parsePattern(p.pattern);
    const mi = pieces.findIndex((x) => x.kind === 'mask');
    // The verbalizer reads as the text before the slot leaves it: after a space, a word.
    const before = mi > 0 ? pieces[mi - 1]! : undefined;
    const spaced = before !== undefined && before.kind === 'text' && before.text.endsWith(' ');
    const verbalizations = set.labels.map((l) => p.verbalizer[l]!.map((w) => {
      const ids = pieceIds(tok, (spaced ? ' ' : '') + w);
      if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', `verbalizer word ${JSON.stringify(w)} has no tokens`);
      return ids;
    }));
    const numMasks = Math.max(...verbalizations.flat().map((v) => v.length));
    const encode = (e: Example, maxLength: number, n = numMasks): PvpRow => {
      const parts: { ids: number[]; shortenable: boolean; mask: boolean }[] = [];
      // A trailing space of a piece moves to the next piece (which then reads as a new word).
      let pending = false;
      for (const x of pieces) {
        if (x.kind === 'mask') {
          parts.push({ ids: new Array<number>(n).fill(mask), shortenable: false, mask: true });
          pending = false;
          continue;
        }
        let text: string;
        if (x.kind === 'text') text = x.text;
        else {
          const v = e.fields[x.name];
          if (v === undefined) throw new SlmError('INVALID_ARGUMENT', `pattern ${JSON.stringify(p.pattern)} reads field ${JSON.stringify(x.name)}, which the example lacks (fields: ${Object.keys(e.fields).join(', ')})`);
          text = applyModifier(v.trim(), x.mod);
        }
        text = (pending ? ' ' : '') + text;
        pending = text.endsWith(' ');
        text = text.replace(/ +$/, '');
        if (text !== '') parts.push({ ids: pieceIds(tok, text), shortenable: x.kind === 'field', mask: false });
      }
      // The reference's truncation: drop the last token of the longest shortenable part.
      let total = parts.reduce((a, q) => a + q.ids.length, 0) + cls.length + sep.length;
      while (total > maxLength) {
        let best = -1;
        parts.forEach((q, i) => {
          if (q.shortenable && q.ids.length > 0 && (best < 0 || q.ids.length > parts[best]!.ids.length)) best = i;
        });
        if (best < 0) throw new SlmError('INVALID_ARGUMENT', `pattern ${JSON.stringify(p.pattern)} needs more than ${maxLength} tokens without its fields`);
        parts[best]!.ids.pop();
        total--;
      }
      const ids = [...cls];
      const masks: number[] = [];
      for (const q of parts) {
        if (q.mask) q.ids.forEach((_, k) => masks.push(ids.length + k));
        ids.push(...q.ids);
      }
      ids.push(...sep);
      return { ids, masks };
    };
    return { id: p.id, pattern: p.pattern, labels: set.labels, verbalizations, numMasks, encode };
  });
}
