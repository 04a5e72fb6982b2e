// The huggingface_hub cache layout (interop-facts §2.2), so Python and slmkit share one cache:
//   <cache>/models--org--name/blobs/<etag>            the bytes, named by normalised etag
//   <cache>/models--org--name/refs/<revision>         commit hash, no trailing newline
//   <cache>/models--org--name/snapshots/<commit>/<path> -> ../../blobs/<etag>  (relative link)
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { COMMIT_RE } from './config.ts';
import { HubError } from './errors.ts';

export const repoFolderName = (repoId: string) => `models--${repoId.split('/').join('--')}`;
export const repoDir = (cacheDir: string, repoId: string) => join(cacheDir, repoFolderName(repoId));
export const blobPath = (cacheDir: string, repoId: string, etag: string) => join(repoDir(cacheDir, repoId), 'blobs', etag);
export const snapshotDir = (cacheDir: string, repoId: string, commit: string) => join(repoDir(cacheDir, repoId), 'snapshots', commit);

/** A repo path as a file below `root`, refusing paths that would leave it ('..', absolute). */
export function safeJoin(root: string, repoPath: string): string {
  const p = resolve(root, repoPath);
  if (!repoPath || repoPath.includes('\0') || !(p + sep).startsWith(resolve(root) + sep) || p === resolve(root)) {
    throw new HubError('bad-response', `the repository lists a file path '${repoPath}' that would leave the cache folder`);
  }
  return p;
}

export function writeCacheDirTag(cacheDir: string): void {
  const tag = join(cacheDir, 'CACHEDIR.TAG');
  if (existsSync(tag)) return;
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(tag, 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by huggingface_hub / slmkit.\n');
}

/** Records that `revision` (a branch or tag) points at `commit`. Atomic; no trailing newline. */
export function writeRef(cacheDir: string, repoId: string, revision: string, commit: string): void {
  if (revision === commit) return;
  writeFileAtomic(safeJoin(join(repoDir(cacheDir, repoId), 'refs'), revision), commit);
}

/** The commit a revision resolves to from the cache alone, or undefined. */
export function readRef(cacheDir: string, repoId: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  const p = safeJoin(join(repoDir(cacheDir, repoId), 'refs'), revision);
  if (!existsSync(p)) return undefined;
  const c = readFileSync(p, 'utf8').trim();
  return COMMIT_RE.test(c) ? c : undefined;
}

/** Points snapshots/<commit>/<path> at the blob with a relative symlink (a copy where links fail). */
export function linkSnapshotFile(cacheDir: string, repoId: string, commit: string, repoPath: string, etag: string): string {
  const target = safeJoin(snapshotDir(cacheDir, repoId, commit), repoPath);
  const blob = blobPath(cacheDir, repoId, etag);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.link.tmp`;
  rmSync(tmp, { force: true });
  try {
    symlinkSync(relative(dirname(target), blob), tmp);
  } catch {
    copyFileSync(blob, tmp); // filesystems without symlinks, as huggingface_hub's fallback
  }
  renameSync(tmp, target);
  return target;
}

/** True when snapshots/<commit>/<path> exists and points at a present blob. */
export function snapshotFileExists(cacheDir: string, repoId: string, commit: string, repoPath: string): boolean {
  const p = safeJoin(snapshotDir(cacheDir, repoId, commit), repoPath);
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface CachedRepo {
  repoId: string;
  path: string;
  /** Bytes of the blobs (each counted once, however many snapshots use it). */
  sizeOnDisk: number;
  /** revision name -> commit */
  refs: Record<string, string>;
  snapshots: string[];
  lastModified: Date;
}

async function walkFiles(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walkFiles(p, out);
    else out.push(p);
  }
  return out;
}

/** Every model repo in the cache, with sizes; other kinds (datasets--, spaces--) are skipped. */
export async function listCachedRepos(cacheDir: string): Promise<CachedRepo[]> {
  const out: CachedRepo[] = [];
  for (const name of (await readdir(cacheDir).catch(() => [])).sort()) {
    const m = /^models--([^-].*?)--(.+)$/.exec(name);
    if (!m) continue;
    const path = join(cacheDir, name);
    let size = 0;
    let last = 0;
    for (const f of await walkFiles(join(path, 'blobs'))) {
      if (f.endsWith('.incomplete')) continue;
      const st = await stat(f);
      size += st.size;
      last = Math.max(last, st.mtimeMs);
    }
    const refsDir = join(path, 'refs');
    const refs: Record<string, string> = {};
    for (const f of await walkFiles(refsDir)) refs[relative(refsDir, f).split(sep).join('/')] = readFileSync(f, 'utf8').trim();
    const snapshots = (await readdir(join(path, 'snapshots')).catch(() => [])).filter((s) => COMMIT_RE.test(s));
    out.push({ repoId: `${m[1]}/${m[2]}`, path, sizeOnDisk: size, refs, snapshots, lastModified: new Date(last || (await stat(path)).mtimeMs) });
  }
  return out;
}

/** Removes a repo from the cache (its blobs, refs, snapshots and lock files). Returns bytes freed. */
export async function removeCachedRepo(cacheDir: string, repoId: string): Promise<number> {
  const dir = repoDir(cacheDir, repoId);
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) throw new HubError('offline-miss', `${repoId} is not in the cache (${cacheDir})`);
  const [info] = (await listCachedRepos(cacheDir)).filter((r) => r.repoId === repoId);
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(cacheDir, '.locks', repoFolderName(repoId)), { recursive: true, force: true });
  return info?.sizeOnDisk ?? 0;
}

/** Exposed for tests and `slm ls`: where a snapshot file points. */
export function linkTarget(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}

export function writeEmpty(p: string): void {
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
}
