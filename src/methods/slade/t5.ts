// A T5 decompiler: asm words in (pairs.ts modelInput), C out. Greedy decoding for one candidate,
// beam search (n beams, n-best list) for --samples n; gcc then chooses (decompile.ts).
import { beamSearch } from '../../generate/beam-search.ts';
import { loadSeq2SeqLM, type Seq2SeqLM } from '../../models/t5-load.ts';
import type { Arch } from './compile.ts';
import type { Decompiler } from './decompile.ts';
import { modelInput } from './pairs.ts';

export class T5Decompiler implements Decompiler {
  constructor(readonly lm: Seq2SeqLM, readonly maxTokens = 384) {}

  async candidates(asm: string, arch: Arch, opt: string | undefined, n: number): Promise<string[]> {
    const lm = this.lm;
    const ids = lm.encodeText(modelInput(asm, arch, opt ?? 'O0')).slice(0, lm.context);
    const enc = await lm.encode([ids]);
    const session = lm.createSession(enc, new Array(n).fill(0));
    try {
      const r = await beamSearch(session, [lm.decoderStartTokenId], { numBeams: n, maxTokens: Math.min(this.maxTokens, lm.context - 1), eosIds: lm.eosIds, lengthPenalty: 1, earlyStopping: true });
      const eos = new Set(lm.eosIds);
      const texts = r.hypotheses.map((h) => lm.tokenizer.decode(h.tokens.filter((t) => !eos.has(t)), { skipSpecialTokens: true }).trim());
      return [...new Set(texts)];
    } finally {
      await session.dispose();
    }
  }
}

export async function loadT5Decompiler(dir: string): Promise<T5Decompiler> {
  return new T5Decompiler(await loadSeq2SeqLM(dir));
}
