// `slm rm <org>/<name>`: removes one model from the shared Hugging Face cache.
import type { Command } from '../command.ts';
import { hubConfig, parseRepoRef, removeCachedRepo } from '../../hub/index.ts';
import { formatBytes } from './ls.ts';

const rm: Command = {
  name: 'rm',
  summary: 'remove a model from the Hugging Face cache',
  usage: '<org>/<name> [--json]',
  options: {
    json: { type: 'boolean', description: 'print {repo_id, freed_bytes} on stdout' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) {
      io.stderr.write('slm rm: expected one repository id (see `slm ls`)\n');
      return 2;
    }
    const { repoId } = parseRepoRef(positionals[0]);
    const freed = await removeCachedRepo(hubConfig().cacheDir, repoId);
    if (values.json) io.stdout.write(JSON.stringify({ repo_id: repoId, freed_bytes: freed }) + '\n');
    else io.stderr.write(`removed ${repoId} (${formatBytes(freed)})\n`);
    return 0;
  },
};

export default rm;
