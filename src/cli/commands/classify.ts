// `slm classify <model> "text" [--pair TEXT]`: sequence classification with the checkpoint's head
// (…ForSequenceClassification); labels from its id2label. `--jsonl` classifies stdin in batches:
// one JSON string or {text, text_pair} per line, one result per line.
import type { Command } from '../command.ts';
import { loadEncoder, type EncoderText } from '../../models/encoder-model.ts';
import { ENCODER_OPTIONS, encoderLoadOptions, readStdinLines } from '../encoder-options.ts';
import { SlmError } from '../../errors.ts';
import { parseLengthConfig } from '../../models/token-pruning.ts';

function parseLine(line: string, n: number): EncoderText {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new SlmError('INVALID_ARGUMENT', `stdin line ${n}: not JSON (expected a JSON string or {"text": ..., "text_pair": ...})`);
  }
  if (typeof v === 'string') return v;
  const o = v as { text?: unknown; text_pair?: unknown } | null;
  if (o && typeof o === 'object' && typeof o.text === 'string' && (o.text_pair === undefined || typeof o.text_pair === 'string')) return { text: o.text, text_pair: o.text_pair as string | undefined };
  throw new SlmError('INVALID_ARGUMENT', `stdin line ${n}: expected a JSON string or {"text": string, "text_pair"?: string}`);
}

const command: Command = {
  name: 'classify',
  summary: 'classify texts with a sequence-classification encoder (RoBERTa/BERT)',
  usage: '<model> "text" [--pair TEXT] [--json] | <model> --jsonl < lines',
  options: {
    pair: { type: 'string', valueName: 'TEXT', description: 'second sentence of a pair (NLI, paraphrase heads)' },
    json: { type: 'boolean', description: 'print {label, score, scores: {label: probability}}' },
    jsonl: { type: 'boolean', description: 'read one JSON string or {text, text_pair} per stdin line; print one JSON result per line' },
    'length-config': { type: 'string', valueName: 'C', description: 'token pruning (Length-Adaptive Distillation): fraction of tokens kept after each layer, "0.9,0.8,0.7,0.6" or "0.6x4"' },
    ...ENCODER_OPTIONS,
  },
  async run({ values, positionals }, io) {
    let inputs: EncoderText[];
    if (values.jsonl) {
      if (positionals.length !== 1) {
        io.stderr.write('slm classify --jsonl: expected only <model>; texts come from stdin\n');
        return 2;
      }
      inputs = (await readStdinLines(io.stdin, io.signal)).map((l, i) => parseLine(l, i + 1));
    } else {
      if (positionals.length !== 2) {
        io.stderr.write('slm classify: expected <model> "text" (or --jsonl with texts on stdin)\n');
        return 2;
      }
      inputs = [values.pair === undefined ? positionals[1]! : { text: positionals[1]!, text_pair: values.pair as string }];
    }
    const m = await loadEncoder(positionals[0]!, encoderLoadOptions(values, io.stderr, io.signal));
    try {
      const lc = values['length-config'] === undefined ? undefined : parseLengthConfig(values['length-config'] as string, m.config.layers);
      const results = await m.classify(inputs, io.signal, { lengthConfig: lc });
      for (const r of results) io.stdout.write(values.json || values.jsonl ? `${JSON.stringify(r)}\n` : `${r.label}\t${r.score.toFixed(4)}\n`);
    } finally {
      await m.dispose();
    }
    return 0;
  },
};

export default command;
