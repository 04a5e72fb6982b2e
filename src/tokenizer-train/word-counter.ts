// Counts GPT-2 pre-tokens ("words") of the training text: the only pass over the raw corpus.
// Special tokens are cut out first so they never feed merges (the tokenizer matches them
// whole before pre-tokenization, so training on their pieces would waste vocabulary).
import { GPT2_SPLIT_REGEX } from './byte-level.ts';
import { listInputFiles, readAllRecords, type ReadOptions } from '../data/sources.ts';

export class WordCounter {
  /** pre-token (raw text, not yet byte-mapped) → occurrences */
  readonly counts = new Map<string, number>();
  private readonly specialSplit: RegExp | null;
  private readonly splitRegex = new RegExp(GPT2_SPLIT_REGEX.source, GPT2_SPLIT_REGEX.flags);
  charsSeen = 0;

  constructor(specialTokens: readonly string[] = []) {
    const nonEmpty = specialTokens.filter((t) => t.length > 0);
    // Longest first so a special token that is a prefix of another does not win.
    const sorted = [...nonEmpty].sort((a, b) => b.length - a.length);
    this.specialSplit = sorted.length ? new RegExp(sorted.map(escapeRegex).join('|'), 'g') : null;
  }

  /** Counts the words of one piece of text. Pieces must be cut at pre-token boundaries. */
  add(text: string): void {
    this.charsSeen += text.length;
    if (this.specialSplit) {
      let last = 0;
      this.specialSplit.lastIndex = 0;
      for (let m = this.specialSplit.exec(text); m; m = this.specialSplit.exec(text)) {
        this.addPlain(text.slice(last, m.index));
        last = m.index + m[0].length;
      }
      this.addPlain(text.slice(last));
    } else {
      this.addPlain(text);
    }
  }

  private addPlain(text: string): void {
    if (text.length === 0) return;
    const words = text.match(this.splitRegex);
    if (!words) return;
    const counts = this.counts;
    for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  }

  /**
   * Streams files/folders (see data/sources.ts) into the counter. Plain-text files are read
   * whole-file as one document (pieces cut at pre-token boundaries); JSONL contributes its
   * `text`, or `prompt` and `response`, fields.
   */
  async addFiles(paths: readonly string[], opts: { signal?: AbortSignal; onFile?: (file: string) => void } = {}): Promise<string[]> {
    const files = listInputFiles(paths);
    for (const f of files) {
      opts.onFile?.(f);
      const readOpts: ReadOptions = { documentSeparator: null, signal: opts.signal };
      for await (const rec of readAllRecords([f], readOpts)) {
        if (rec.kind === 'text') this.add(rec.text);
        else {
          this.add(rec.prompt);
          this.add(rec.response);
        }
      }
    }
    return files;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
