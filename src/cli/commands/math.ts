// `slm math <subcommand>`: TinyGSM-style math with Python solutions and best-of-N selection.
//   generate  prompts JSONL → completions JSONL (in-process, or over a Redis queue with --queue)
//   world, sample, label, verify-train, solve: math-tinygsm.ts (docs/methods/tinygsm.md)
// The library is src/methods/tinygsm/.
import type { Command } from '../command.ts';
import { GENERATION_JOB_OPTIONS, runGenerationJob } from '../generation-job.ts';
import { MATH_OPTIONS, runMathSubcommand, MATH_SUBCOMMANDS } from './math-tinygsm.ts';

const math: Command = {
  name: 'math',
  summary: 'TinyGSM math: generation jobs (prompts → completions JSONL, local or over a Redis queue), the synthetic world, sandboxed labelling, verifier training, best-of-N solve',
  usage: `<${['generate', ...MATH_SUBCOMMANDS].join('|')}> [options]`,
  options: {
    ...GENERATION_JOB_OPTIONS,
    ...MATH_OPTIONS,
    json: { type: 'boolean', description: 'print a JSON summary on stdout' },
  },
  async run({ values, positionals }, io) {
    const [sub] = positionals;
    if (sub === 'generate') return runGenerationJob(values, io, 'slm math generate');
    if (sub && (MATH_SUBCOMMANDS as readonly string[]).includes(sub)) return runMathSubcommand(sub, values, positionals.slice(1), io);
    io.stderr.write(`slm math: expected a subcommand: ${['generate', ...MATH_SUBCOMMANDS].join(', ')}\n`);
    return 2;
  },
};

export default math;
