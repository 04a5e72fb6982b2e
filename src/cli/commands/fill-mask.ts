// `slm fill-mask <model> "text with <mask>"`: the model's best fillers for the one mask token,
// as the Hugging Face fill-mask pipeline returns them ({token, token_str, score, sequence}).
import type { Command } from '../command.ts';
import { loadEncoder } from '../../models/encoder-model.ts';
import { ENCODER_OPTIONS, encoderLoadOptions } from '../encoder-options.ts';
import { SlmError } from '../../errors.ts';

const command: Command = {
  name: 'fill-mask',
  summary: 'predict the masked token of a text (RoBERTa/BERT masked-LM checkpoints)',
  usage: '<model> "text with <mask>" [--top-k K] [--json]',
  options: {
    'top-k': { type: 'string', valueName: 'K', description: 'how many fillers (default 5)' },
    json: { type: 'boolean', description: 'one JSON array per text of {token, token_str, score, sequence}, best first' },
    ...ENCODER_OPTIONS,
  },
  async run({ values, positionals }, io) {
    if (positionals.length < 2) {
      io.stderr.write('slm fill-mask: expected <model> and at least one text containing a mask token (<mask> or [MASK])\n');
      return 2;
    }
    const topK = values['top-k'] === undefined ? 5 : Number(values['top-k']);
    if (!Number.isInteger(topK) || topK < 1) throw new SlmError('INVALID_ARGUMENT', `--top-k must be a positive integer (got ${String(values['top-k'])})`);
    const m = await loadEncoder(positionals[0]!, encoderLoadOptions(values, io.stderr, io.signal));
    try {
      const results = await m.fillMasks(positionals.slice(1), { topK, signal: io.signal });
      for (const r of results) {
        if (values.json) io.stdout.write(`${JSON.stringify(r)}\n`);
        else for (const x of r) io.stdout.write(`${x.score.toFixed(4)}\t${JSON.stringify(x.token_str)}\t${x.sequence}\n`);
      }
    } finally {
      await m.dispose();
    }
    return 0;
  },
};

export default command;
