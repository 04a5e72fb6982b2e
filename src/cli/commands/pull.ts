// `slm pull <org>/<name>[@revision]`: downloads a Hugging Face repository into the cache that
// huggingface_hub uses (HF_HOME / HF_HUB_CACHE), so Python and slmkit share downloads.
import type { Command } from '../command.ts';
import { pull, type PullProgress } from '../../hub/index.ts';
import { formatBytes } from './ls.ts';

function progressPrinter(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
  if (stream.isTTY !== true) return { update: (_p: PullProgress) => {}, finish: () => {} };
  let last = 0;
  let drawn = false;
  return {
    update(p: PullProgress) {
      const now = Date.now();
      if (now - last < 100 && p.filesDone < p.files) return;
      last = now;
      const frac = p.allTotal ? Math.min(1, p.allDone / p.allTotal) : 0;
      const bar = '='.repeat(Math.round(frac * 20)).padEnd(20);
      const line = `files ${p.filesDone}/${p.files} [${bar}] ${formatBytes(p.allDone)}${p.allTotal ? ` / ${formatBytes(p.allTotal)}` : ''}  ${p.path}`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 100) - 1)}\x1b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\n');
    },
  };
}

const pullCommand: Command = {
  name: 'pull',
  summary: 'download a model repository from the Hugging Face Hub into the shared cache',
  usage: '<org>/<name>[@revision] [--include GLOB]... [--exclude GLOB]... [--json]',
  options: {
    revision: { type: 'string', valueName: 'rev', description: 'branch, tag or commit (default main; also org/name@rev)' },
    include: { type: 'string', multiple: true, valueName: 'glob', description: "only files matching (fnmatch, e.g. '*.Q4_0.gguf'); repeatable" },
    exclude: { type: 'string', multiple: true, valueName: 'glob', description: 'skip files matching; repeatable' },
    json: { type: 'boolean', description: 'print the result as one JSON object on stdout' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) {
      io.stderr.write('slm pull: expected one repository id, e.g. slm pull TinyLlama/TinyLlama-1.1B-Chat-v1.0\n');
      return 2;
    }
    const bar = progressPrinter(io.stderr as never);
    const result = await pull(positionals[0], {
      revision: values.revision as string | undefined,
      include: values.include as string[] | undefined,
      exclude: values.exclude as string[] | undefined,
      signal: io.signal,
      onProgress: (p) => bar.update(p),
    }).finally(() => bar.finish());
    if (values.json) {
      io.stdout.write(JSON.stringify({ repo_id: result.repoId, revision: result.revision, commit: result.commit, path: result.path, files: result.files }) + '\n');
    } else {
      const got = result.files.filter((f) => f.downloaded);
      io.stderr.write(`${result.repoId}@${result.revision} (${result.commit.slice(0, 10)}): ${got.length} file(s) downloaded, ${result.files.length - got.length} already cached\n`);
      io.stdout.write(`${result.path}\n`);
    }
    return 0;
  },
};

export default pullCommand;
