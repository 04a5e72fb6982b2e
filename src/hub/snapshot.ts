// `slm pull`: a repository snapshot into the shared cache, as huggingface_hub's
// snapshot_download does it (interop-facts §2.1): revision -> commit, the file tree at that
// commit, then per file HEAD (etag, size, CDN location) and GET. Offline, the same call answers
// from the cache: refs/<revision> -> snapshots/<commit>.
import { existsSync } from 'node:fs';
import { COMMIT_RE, hubConfig, parseRepoRef, type HubConfig } from './config.ts';
import { HubError } from './errors.ts';
import { encodeFilePath, encodeRevision, fileMetadata, hubJson } from './http.ts';
import { pathFilter } from './glob.ts';
import { linkSnapshotFile, readRef, snapshotDir, snapshotFileExists, writeCacheDirTag, writeRef } from './cache-layout.ts';
import { downloadBlob, type DownloadProgress } from './download-file.ts';

export interface PullOptions {
  revision?: string;
  include?: string[];
  exclude?: string[];
  config?: Partial<HubConfig>;
  signal?: AbortSignal;
  /** Files downloaded at once (huggingface_hub uses 8). */
  concurrency?: number;
  onProgress?: (p: PullProgress) => void;
}

export interface PullProgress extends DownloadProgress {
  /** Bytes of every selected file done so far, and their total when the tree gave sizes. */
  allDone: number;
  allTotal: number;
  filesDone: number;
  files: number;
}

export interface PullResult {
  repoId: string;
  revision: string;
  commit: string;
  /** snapshots/<commit>: a model folder every slm command accepts. */
  path: string;
  files: { path: string; size: number; downloaded: boolean }[];
  /** True when no network was used (offline, or everything was already there for a commit revision). */
  fromCache: boolean;
}

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
}

async function listTree(cfg: HubConfig, repoId: string, commit: string, signal?: AbortSignal): Promise<TreeEntry[]> {
  let url: URL | undefined = new URL(`${cfg.endpoint}/api/models/${repoId}/tree/${encodeRevision(commit)}?recursive=true&expand=false`);
  const out: TreeEntry[] = [];
  for (let page = 0; url && page < 10_000; page++) {
    const { body, res } = await hubJson(cfg, url, `listing the files of ${repoId}`, signal);
    if (!Array.isArray(body)) throw new HubError('bad-response', `listing the files of ${repoId}: expected a JSON array`);
    for (const e of body as TreeEntry[]) {
      if (e && e.type === 'file' && typeof e.path === 'string') out.push(e);
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
    url = next ? new URL(next[1], url) : undefined;
  }
  return out;
}

/** The snapshot folder of `org/name[@revision]` from the cache alone, or undefined. */
export function cachedSnapshot(repo: string, o: { revision?: string; config?: Partial<HubConfig> } = {}): { path: string; commit: string } | undefined {
  const cfg = hubConfig(o.config);
  const { repoId, revision } = parseRepoRef(repo, o.revision);
  const commit = readRef(cfg.cacheDir, repoId, revision);
  if (!commit) return undefined;
  const path = snapshotDir(cfg.cacheDir, repoId, commit);
  return existsSync(path) ? { path, commit } : undefined;
}

/** Downloads (or finds in the cache) the files of a repository at a revision. */
export async function pull(repo: string, o: PullOptions = {}): Promise<PullResult> {
  const cfg = hubConfig(o.config);
  const { repoId, revision } = parseRepoRef(repo, o.revision);
  if (cfg.offline) {
    const hit = cachedSnapshot(repo, o);
    if (!hit) throw new HubError('offline-miss', `${repoId}@${revision} is not in the cache (${cfg.cacheDir}) and HF_HUB_OFFLINE is set`);
    return { repoId, revision, commit: hit.commit, path: hit.path, files: [], fromCache: true };
  }
  let commit = revision;
  if (!COMMIT_RE.test(revision)) {
    const { body } = await hubJson(cfg, new URL(`${cfg.endpoint}/api/models/${repoId}/revision/${encodeRevision(revision)}`), `looking up ${repoId}@${revision}`, o.signal);
    const sha = (body as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !COMMIT_RE.test(sha)) throw new HubError('bad-response', `looking up ${repoId}@${revision}: the answer has no commit sha`);
    commit = sha;
  }
  const keep = pathFilter(o.include, o.exclude);
  const tree = (await listTree(cfg, repoId, commit, o.signal)).filter((e) => keep(e.path));
  if (tree.length === 0) throw new HubError('entry-not-found', `${repoId}@${revision}: no file matches ${o.include?.length ? `--include ${o.include.join(' ')}` : 'the selection'}${o.exclude?.length ? ` --exclude ${o.exclude.join(' ')}` : ''}`);
  writeCacheDirTag(cfg.cacheDir);

  const allTotal = tree.reduce((s, e) => s + (e.size ?? 0), 0);
  const doneOf = new Map<string, number>();
  let filesDone = 0;
  const results: PullResult['files'] = [];
  const report = (p: DownloadProgress) => {
    doneOf.set(p.path, p.done);
    let allDone = 0;
    for (const v of doneOf.values()) allDone += v;
    o.onProgress?.({ ...p, allDone, allTotal, filesDone, files: tree.length });
  };
  const one = async (e: TreeEntry) => {
    if (snapshotFileExists(cfg.cacheDir, repoId, commit, e.path)) {
      results.push({ path: e.path, size: e.size ?? 0, downloaded: false });
    } else {
      const url = new URL(`${cfg.endpoint}/${repoId}/resolve/${encodeRevision(commit)}/${encodeFilePath(e.path)}`);
      const meta = await fileMetadata(cfg, url, `${repoId}/${e.path}`, o.signal);
      await downloadBlob(cfg, repoId, e.path, meta, { signal: o.signal, onProgress: report });
      linkSnapshotFile(cfg.cacheDir, repoId, commit, e.path, meta.etag);
      results.push({ path: e.path, size: meta.size ?? e.size ?? 0, downloaded: true });
    }
    filesDone++;
    report({ path: e.path, done: e.size ?? 0, total: e.size });
  };
  const queue = [...tree];
  const workers = Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, queue.length)) }, async () => {
    for (let e = queue.shift(); e; e = queue.shift()) await one(e);
  });
  await Promise.all(workers);
  writeRef(cfg.cacheDir, repoId, revision, commit);
  results.sort((a, b) => a.path.localeCompare(b.path));
  return { repoId, revision, commit, path: snapshotDir(cfg.cacheDir, repoId, commit), files: results, fromCache: results.every((r) => !r.downloaded) };
}
