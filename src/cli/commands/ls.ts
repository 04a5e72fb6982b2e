// `slm ls`: the models in the shared Hugging Face cache, with their size and revisions.
import type { Command } from '../command.ts';
import { hubConfig, listCachedRepos } from '../../hub/index.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const ls: Command = {
  name: 'ls',
  summary: 'list the models in the Hugging Face cache (HF_HUB_CACHE) with sizes',
  usage: '[--json]',
  allowPositionals: false,
  options: {
    json: { type: 'boolean', description: 'print one JSON array on stdout' },
  },
  async run({ values }, io) {
    const { cacheDir } = hubConfig();
    const repos = await listCachedRepos(cacheDir);
    if (values.json) {
      io.stdout.write(
        JSON.stringify(repos.map((r) => ({ repo_id: r.repoId, size_on_disk: r.sizeOnDisk, refs: r.refs, snapshots: r.snapshots, last_modified: r.lastModified.toISOString(), path: r.path }))) + '\n',
      );
      return 0;
    }
    if (repos.length === 0) {
      io.stderr.write(`no models in ${cacheDir}\n`);
      return 0;
    }
    const rows = repos.map((r) => [r.repoId, formatBytes(r.sizeOnDisk), Object.keys(r.refs).join(',') || r.snapshots.map((s) => s.slice(0, 10)).join(','), r.lastModified.toISOString().slice(0, 10)]);
    const head = ['MODEL', 'SIZE', 'REVISIONS', 'MODIFIED'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) io.stdout.write(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n');
    return 0;
  },
};

export default ls;
