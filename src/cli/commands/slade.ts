// `slm slade <data|train|decompile|eval>`: the SLaDe-style decompiler (docs/methods/slade.md).
//   data       build the corpus from real C on this machine (+ seq2seq pairs with --pairs)
//   train      fit the retrieval baseline index (a T5 is trained with slm train on --pairs)
//   decompile  asm (.s, .o, objdump text or -) → C per function, --samples N with gcc/IO verification
//   eval       decompile-eval re-executability + edit similarity, or corpus IO accuracy (--corpus)
import type { Command } from '../command.ts';
import { runData } from './slade-data.ts';
import { runDecompile, runEval, runTrain } from './slade-run.ts';

const SUBCOMMANDS = ['data', 'train', 'decompile', 'eval'] as const;

const slade: Command = {
  name: 'slade',
  summary: 'SLaDe decompiler: corpus from real C, model, asm → C with gcc in the loop, IO-accuracy eval',
  usage: `<${SUBCOMMANDS.join('|')}> [options]`,
  options: {
    out: { type: 'string', valueName: 'path', description: 'data: corpus JSONL to write; train: model folder' },
    roots: { type: 'string', valueName: 'dirs', description: 'data: comma-separated dirs to read C from (default /usr/share/doc,/usr/share/vim,/usr/include)' },
    limit: { type: 'string', valueName: 'n', description: 'data: first n extracted functions; eval: first n rows' },
    concurrency: { type: 'string', valueName: 'n', description: 'sandboxed gcc jobs in flight (default 2)' },
    'test-fraction': { type: 'string', valueName: 'f', description: 'data: share of source files held out (default 0.1)' },
    resplit: { type: 'string', valueName: 'file', description: 'data: re-split this existing corpus with --test-fraction (no recompiling)' },
    pairs: { type: 'string', valueName: 'dir', description: 'data: also write train.jsonl / test.jsonl seq2seq pairs there' },
    'eval-set': { type: 'string', valueName: 'file', description: 'decompile-eval JSON (default ../shared/datasets/decompile_eval/decompile-eval-executable-gcc-obj.json)' },
    arch: { type: 'string', valueName: 'a', description: 'x86_64 (default) or aarch64' },
    corpus: { type: 'string', valueName: 'file', description: 'train: corpus JSONL to fit on; eval: score on its held-out split (IO accuracy) instead of decompile-eval' },
    model: { type: 'string', valueName: 'dir', description: 'decompile/eval: the decompiler (a retrieval index or a T5 folder)' },
    samples: { type: 'string', valueName: 'n', description: 'decompile/eval: n candidates (beam n-best), gcc (and IO examples) choose (default 1: greedy)' },
    opt: { type: 'string', valueName: 'O0|O3', description: 'decompile: the -O level the input was built at, when known' },
    io: { type: 'string', valueName: 'file', description: 'decompile: IO examples (JSON, as a corpus row\'s arch.<a>.io) candidates must pass' },
    records: { type: 'boolean', description: 'eval --json: include every row/case' },
    json: { type: 'boolean', description: 'print machine-readable JSON on stdout' },
  },
  async run({ values, positionals }, io) {
    const [sub, ...rest] = positionals;
    if (sub === 'data') return runData(values, io);
    if (sub === 'train') return runTrain(values, io);
    if (sub === 'decompile') return runDecompile(values, rest, io);
    if (sub === 'eval') return runEval(values, io);
    io.stderr.write(`slm slade: expected a subcommand: ${SUBCOMMANDS.join(', ')}\n`);
    return 2;
  },
};

export default slade;
