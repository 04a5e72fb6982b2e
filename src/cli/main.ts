// `slm` entry point: dispatches to one command per file. The only place that turns
// errors into exit codes (library code throws typed errors, never exits).
import { parseArgs } from 'node:util';
import type { Command, CommandIO } from './command.ts';
import { SlmError } from '../errors.ts';
import { joinNegativeValues } from './negative-values.ts';

// Each command is loaded lazily so `slm tokenize` does not pay for onnxruntime.
const COMMANDS: Record<string, () => Promise<Command>> = {
  // name: async () => (await import('./commands/name.ts')).default,
  serve: async () => (await import('./commands/serve.ts')).default,
  generate: async () => (await import('./commands/generate.ts')).default,
  chat: async () => (await import('./commands/chat.ts')).default,
  inspect: async () => (await import('./commands/inspect.ts')).default,
  tokenizer: async () => (await import('./commands/tokenizer.ts')).default,
  tokenize: async () => (await import('./commands/tokenize.ts')).default,
  train: async () => (await import('./commands/train.ts')).default,
  merge: async () => (await import('./commands/merge.ts')).default,
  bench: async () => (await import('./commands/bench.ts')).default,
  convert: async () => (await import('./commands/convert.ts')).default,
  pull: async () => (await import('./commands/pull.ts')).default,
  ls: async () => (await import('./commands/ls.ts')).default,
  rm: async () => (await import('./commands/rm.ts')).default,
  eval: async () => (await import('./commands/eval.ts')).default,
  'fill-mask': async () => (await import('./commands/fill-mask.ts')).default,
  classify: async () => (await import('./commands/classify.ts')).default,
  embed: async () => (await import('./commands/embed.ts')).default,
  data: async () => (await import('./commands/data.ts')).default,
  supericl: async () => (await import('./commands/supericl.ts')).default,
  pet: async () => (await import('./commands/pet.ts')).default,
  lad: async () => (await import('./commands/lad.ts')).default,
  worker: async () => (await import('./commands/worker.ts')).default,
  math: async () => (await import('./commands/math.ts')).default,
  flame: async () => (await import('./commands/flame.ts')).default,
  slade: async () => (await import('./commands/slade.ts')).default,
};

function helpFor(cmd: Command): string {
  const lines = [`Usage: slm ${cmd.name} ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  const opts: Record<string, import('./command.ts').OptionSpec> = { ...cmd.options, help: { type: 'boolean', short: 'h', description: 'show this help' } };
  for (const [name, o] of Object.entries(opts)) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${(o as { valueName?: string }).valueName ?? 'value'}>` : ''}`;
    lines.push(`  ${flag.padEnd(32)} ${o.description}`);
  }
  return lines.join('\n') + '\n';
}

async function topHelp(): Promise<string> {
  const lines = ['Usage: slm <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const cmd = await load();
    lines.push(`  ${name.padEnd(12)} ${cmd.summary}`);
  }
  lines.push('', 'Run `slm <command> --help` for the options of one command.');
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], ioIn?: Partial<CommandIO>): Promise<number> {
  const controller = new AbortController();
  const io: CommandIO = {
    stdout: ioIn?.stdout ?? process.stdout,
    stderr: ioIn?.stderr ?? process.stderr,
    stdin: ioIn?.stdin ?? process.stdin,
    signal: ioIn?.signal ?? controller.signal,
  };
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(await topHelp());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`slm: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const cmd = await load();
  let parsed;
  try {
    const options = Object.fromEntries(
      Object.entries(cmd.options).map(([k, o]) => {
        const { description: _d, valueName: _v, ...rest } = o;
        return [k, rest];
      }),
    );
    parsed = parseArgs({
      args: joinNegativeValues(rest, cmd.options),
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.allowPositionals ?? true,
      strict: true,
    });
  } catch (e) {
    io.stderr.write(`slm ${name}: ${(e as Error).message}\n\n${helpFor(cmd)}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout.write(helpFor(cmd));
    return 0;
  }
  const onSigint = () => controller.abort();
  if (!ioIn?.signal) process.once('SIGINT', onSigint);
  try {
    return await cmd.run(parsed as never, io);
  } catch (e) {
    if (e instanceof SlmError) {
      io.stderr.write(`slm ${name}: ${e.message}\n`);
      return e.code === 'ABORTED' ? 130 : 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
