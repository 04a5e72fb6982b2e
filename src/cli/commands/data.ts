// `slm data <subcommand> ...`: builds training data. One line per subcommand in the table
// below; each subcommand is a Command of its own (data-<name>.ts). main.ts parses the union
// of their options, so run() rejects an option the chosen subcommand does not take.
import type { Command, OptionSpec } from '../command.ts';

const SUBCOMMANDS: Record<string, Command> = {
  flan: (await import('./data-flan.ts')).default,
  orca: (await import('./data-orca.ts')).default,
};

const options: Record<string, OptionSpec> = {};
for (const sub of Object.values(SUBCOMMANDS)) Object.assign(options, sub.options);

const data: Command = {
  name: 'data',
  summary: `build training data (${Object.keys(SUBCOMMANDS).join(', ')})`,
  usage: `<${Object.keys(SUBCOMMANDS).join('|')}> [options]  (slm data <sub> --help lists its options)`,
  options,
  async run({ values, positionals }, io) {
    const [name, ...rest] = positionals;
    const sub = name === undefined ? undefined : SUBCOMMANDS[name];
    if (!sub) {
      io.stderr.write(`slm data: expected a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}\n`);
      for (const [n, s] of Object.entries(SUBCOMMANDS)) io.stderr.write(`  ${n.padEnd(10)} ${s.summary}\n`);
      return 2;
    }
    for (const [k, v] of Object.entries(values)) {
      if (v !== undefined && !(k in sub.options)) {
        io.stderr.write(`slm data ${name}: unknown option --${k}\n`);
        return 2;
      }
    }
    return sub.run({ values, positionals: rest }, io);
  },
};

export default data;
