// File-level entry point: count words in files/folders, train, write tokenizer.json.
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { trainBpe, type BpeTrainOptions, type TrainedBpe } from './bpe-trainer.ts';
import { tokenizerConfigJsonText, tokenizerJsonText, type TokenizerJsonOptions } from './tokenizer-json.ts';
import { WordCounter } from './word-counter.ts';

export interface TrainFilesResult {
  model: TrainedBpe;
  files: string[];
  chars: number;
  uniqueWords: number;
  countSeconds: number;
  mergeSeconds: number;
}

export async function trainBpeFromFiles(
  paths: readonly string[],
  opts: BpeTrainOptions & { onFile?: (file: string) => void },
): Promise<TrainFilesResult> {
  const t0 = performance.now();
  const counter = new WordCounter(opts.specialTokens ?? []);
  const files = await counter.addFiles(paths, { signal: opts.signal, onFile: opts.onFile });
  const t1 = performance.now();
  const model = trainBpe(counter.counts, opts);
  const t2 = performance.now();
  return {
    model,
    files,
    chars: counter.charsSeen,
    uniqueWords: counter.counts.size,
    countSeconds: (t1 - t0) / 1000,
    mergeSeconds: (t2 - t1) / 1000,
  };
}

/**
 * Writes `outPath` (tokenizer.json) atomically. When the file is named tokenizer.json, a
 * tokenizer_config.json is written next to it too (HF folder layout), unless one is asked not to.
 */
export function writeTokenizerJson(
  model: TrainedBpe,
  outPath: string,
  opts: TokenizerJsonOptions & { writeConfig?: boolean; eosToken?: string } = {},
): string[] {
  writeFileAtomic(outPath, tokenizerJsonText(model, opts));
  const written = [outPath];
  if ((opts.writeConfig ?? true) && basename(outPath) === 'tokenizer.json') {
    const cfgPath = join(dirname(outPath), 'tokenizer_config.json');
    writeFileAtomic(cfgPath, tokenizerConfigJsonText(model, opts.eosToken));
    written.push(cfgPath);
  }
  return written;
}
