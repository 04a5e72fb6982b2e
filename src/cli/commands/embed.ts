// `slm embed <model>`: one sentence embedding per stdin line (the checkpoint's sentence-transformers
// pooling, else mean pooling; `--normalize` for unit vectors).
import type { Command } from '../command.ts';
import { loadEncoder } from '../../models/encoder-model.ts';
import { ENCODER_OPTIONS, encoderLoadOptions, readStdinLines } from '../encoder-options.ts';
import { runImageEmbed } from './embed-image.ts';

const command: Command = {
  name: 'embed',
  summary: 'sentence embeddings of stdin lines with a BERT/RoBERTa encoder',
  usage: '<model> [--json] [--normalize] < lines  |  <clip-model> --image FILE [--image FILE]...',
  options: {
    json: { type: 'boolean', description: 'one JSON array of numbers per line (default: space-separated numbers)' },
    image: { type: 'string', multiple: true, description: 'CLIP image encoders: embed these images (JPEG/PNG) instead of stdin lines, one vector each', valueName: 'file' },
    normalize: { type: 'boolean', description: 'L2-normalise every vector (sentence-transformers models with a Normalize module already are)' },
    ...ENCODER_OPTIONS,
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) {
      io.stderr.write('slm embed: expected exactly one <model>; texts come from stdin, one per line\n');
      return 2;
    }
    const images = values.image as string[] | undefined;
    if (images?.length) return runImageEmbed(positionals[0]!, images, { json: !!values.json, normalize: !!values.normalize, threads: encoderLoadOptions(values, io.stderr, io.signal).threads }, io);
    const opts = encoderLoadOptions(values, io.stderr, io.signal);
    const m = await loadEncoder(positionals[0]!, values.normalize ? { ...opts, pooling: { normalize: true } } : opts);
    try {
      const vectors = await m.embed(await readStdinLines(io.stdin, io.signal), io.signal);
      for (const v of vectors) io.stdout.write(values.json ? `${JSON.stringify(Array.from(v))}\n` : `${Array.from(v).join(' ')}\n`);
    } finally {
      await m.dispose();
    }
    return 0;
  },
};

export default command;
