// Repair and completion with a trained formula T5: beam search returns the n-best list with
// scores; candidates are then checked by the lexer + parser and the valid ones are ranked above
// the invalid ones (invalid candidates are kept, below, so top-k never shrinks; the order inside
// each group is the beam score). For completion, a candidate must also keep the user's prefix
// (compared after normalisation) to count as valid.
import { beamSearch } from '../../generate/beam-search.ts';
import type { Seq2SeqLM } from '../../models/t5-load.ts';
import { normalizeFormula } from './lexer.ts';
import { MASK } from './noise.ts';
import { parses } from './parser.ts';

export interface Candidate {
  formula: string;
  /** Beam score: sum of log-probabilities / length^lengthPenalty. */
  score: number;
  /** Parses (balanced structure, no stray tokens) and, for completion, keeps the prefix. */
  valid: boolean;
}

export interface NBestOptions {
  numBeams?: number;
  maxTokens?: number;
  lengthPenalty?: number;
  signal?: AbortSignal;
}

/** The n-best outputs of one input text (numBeams of them, best first). */
export async function nBest(lm: Seq2SeqLM, input: string, o: NBestOptions = {}): Promise<{ text: string; score: number }[]> {
  const numBeams = o.numBeams ?? 5;
  const ids = lm.encodeText(input);
  const enc = await lm.encode([ids], o.signal);
  const session = lm.createSession(enc, new Array(numBeams).fill(0));
  try {
    const maxTokens = Math.min(o.maxTokens ?? Math.max(16, Math.ceil(ids.length * 1.5) + 8), lm.context - 1);
    const r = await beamSearch(session, [lm.decoderStartTokenId], { numBeams, maxTokens, eosIds: lm.eosIds, lengthPenalty: o.lengthPenalty ?? 1, earlyStopping: false, signal: o.signal });
    const eos = new Set(lm.eosIds);
    return r.hypotheses.map((h) => ({ text: lm.tokenizer.decode(h.tokens.filter((t) => !eos.has(t)), { skipSpecialTokens: true }), score: h.score }));
  } finally {
    await session.dispose();
  }
}


/** Valid first, then by score; duplicates (after normalisation) dropped. */
export function rankCandidates(cands: readonly { formula: string; score: number }[], isValid: (f: string) => boolean): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of cands) {
    const key = normalizeFormula(c.formula);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ formula: c.formula, score: c.score, valid: isValid(c.formula) });
  }
  return out.sort((a, b) => Number(b.valid) - Number(a.valid) || b.score - a.score);
}

/** Repaired formulas for a broken one, best first. */
export async function repairFormula(lm: Seq2SeqLM, formula: string, o: NBestOptions & { topK?: number } = {}): Promise<Candidate[]> {
  const n = await nBest(lm, formula, { ...o, numBeams: Math.max(o.numBeams ?? 5, o.topK ?? 1) });
  const withEq = n.map((c) => ({ formula: c.text.startsWith('=') || !formula.trimStart().startsWith('=') ? c.text : '=' + c.text, score: c.score }));
  return rankCandidates(withEq, parses).slice(0, o.topK ?? 5);
}

/** Whole formulas completing a prefix (given without '<mask>'), best first. */
export async function completeFormula(lm: Seq2SeqLM, prefix: string, o: NBestOptions & { topK?: number } = {}): Promise<Candidate[]> {
  const n = await nBest(lm, prefix + MASK, { ...o, numBeams: Math.max(o.numBeams ?? 5, o.topK ?? 1) });
  const p = normalizeFormula(prefix);
  const keepsPrefix = (f: string) => normalizeFormula(f).startsWith(p);
  return rankCandidates(n.map((c) => ({ formula: c.text, score: c.score })), (f) => keepsPrefix(f) && parses(f)).slice(0, o.topK ?? 5);
}
