// `slm math <subcommand>`: TinyGSM-style math with Python solutions and best-of-N selection.
//   generate  prompts JSONL → completions JSONL (in-process, or over a Redis queue with --queue)
// Planned (not built yet; see docs/queue.md and the issue): synth (synthetic arithmetic world),
// run (sandboxed execution + labels), select (greedy / majority vote / verifier best-of-N). The
// library parts that exist are in src/methods/tinygsm/ (program format, parsing, filters, world).
import type { Command } from '../command.ts';
import { GENERATION_JOB_OPTIONS, runGenerationJob } from '../generation-job.ts';
import { MATH_OPTIONS, runMathSubcommand, MATH_SUBCOMMANDS } from '../math-subcommands.ts';

const math: Command = {
  name: 'math',
  summary: 'TinyGSM math: generation jobs (prompts → completions JSONL, in-process or over a Redis queue)',
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
