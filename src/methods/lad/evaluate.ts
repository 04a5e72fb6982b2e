// Measuring a (pruned) encoder classifier on a labelled development set: accuracy, the FLOPs
// speed-up of a length configuration over the data's lengths (LAT's measure) and the wall-clock
// throughput. Used by `slm lad search` (accuracy per candidate) and `slm lad eval` (the curve).
import { readFile } from 'node:fs/promises';
import type { EncoderModel } from '../../models/encoder-model.ts';
import { EncoderInputs, type EncoderText } from '../../models/encoder-inputs.ts';
import type { LengthConfig } from '../../models/token-pruning.ts';
import { readLabelledFile } from '../../data/labelled.ts';
import { FormatError, SlmError } from '../../errors.ts';
import { flopsSpeedup, type EncoderShape } from './length-config.ts';

export interface LadExample {
  text: string;
  textPair?: string;
  label: string;
}

/** Labelled examples: stsa.binary.* ("<0|1> sentence": negative/positive) or a labelled JSONL/CSV/TSV file. */
export async function readLadData(file: string): Promise<LadExample[]> {
  if (/stsa\.binary\.[a-z]+$/.test(file)) {
    const out: LadExample[] = [];
    (await readFile(file, 'utf8')).split('\n').forEach((l, i) => {
      if (!l.trim()) return;
      const m = /^([01]) (.*)$/.exec(l);
      if (!m) throw new FormatError(file, `line ${i + 1}`, 'expected "<0|1> sentence"');
      out.push({ text: m[2]!, label: m[1] === '1' ? 'positive' : 'negative' });
    });
    return out;
  }
  return readLabelledFile(file);
}

export function ladInputs(examples: readonly LadExample[]): EncoderText[] {
  return examples.map((x) => (x.textPair === undefined ? x.text : { text: x.text, text_pair: x.textPair }));
}

export function encoderShape(m: EncoderModel): EncoderShape {
  return { layers: m.config.layers, hidden: m.config.hidden, intermediate: m.config.intermediate };
}

export interface ConfigMeasurement {
  config: LengthConfig | null;
  accuracy: number;
  /** FLOPs(full) / FLOPs(config) over the set's token counts (1 for the full model). */
  speedup: number;
  /** Examples per second of wall time (classify at the model's batch size). */
  sentencesPerSecond: number;
}

/** Accuracy, FLOPs speed-up and throughput of `config` (null: the full model) on `examples`. */
export async function measureConfig(m: EncoderModel, examples: readonly LadExample[], config: LengthConfig | null, signal?: AbortSignal): Promise<ConfigMeasurement> {
  if (examples.length === 0) throw new SlmError('INVALID_ARGUMENT', 'no development examples');
  for (const x of examples) if (!m.labels.includes(x.label)) throw new SlmError('INVALID_ARGUMENT', `label ${JSON.stringify(x.label)} is not one of the model's (${m.labels.join(', ')})`);
  const inputs = ladInputs(examples);
  const t0 = performance.now();
  const preds = await m.classify(inputs, signal, config ? { lengthConfig: config } : {});
  const seconds = (performance.now() - t0) / 1000;
  const accuracy = preds.filter((p, i) => p.label === examples[i]!.label).length / examples.length;
  const speedup = config ? flopsSpeedup(encoderShape(m), tokenCounts(m, inputs), config) : 1;
  return { config, accuracy, speedup, sentencesPerSecond: examples.length / seconds };
}

/** Token counts of the inputs as the model encodes them (with special tokens). */
export function tokenCounts(m: EncoderModel, inputs: readonly EncoderText[]): number[] {
  const enc = new EncoderInputs(m.arch, m.config, m.tokenizer, { truncate: true });
  return inputs.map((x) => enc.encode(x).ids.length);
}
