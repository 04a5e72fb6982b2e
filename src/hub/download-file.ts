// Downloads one file into blobs/<etag>, resumably and verified:
// - bytes go to blobs/<etag>.slmkit.incomplete (a name of our own: huggingface_hub's per-process
//   '.<8hex>.incomplete' files are never reused, ours are); a dropped connection resumes with
//   `Range: bytes=N-` in the same call, and a later `slm pull` resumes the same partial file;
// - a lock file (.locks/<repo>/<etag>.slmkit.lock holding the pid) keeps two slm processes off
//   one partial file; a lock whose process is gone is taken over;
// - the finished file is checked against the size the Hub announced and against its etag (sha256
//   for LFS files, git blob sha1 for small ones) before it is renamed into place.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HubError } from './errors.ts';
import { hubFetch, raiseForStatus, type FileMetadata } from './http.ts';
import type { HubConfig } from './config.ts';
import { blobPath, repoFolderName } from './cache-layout.ts';

export interface DownloadProgress {
  path: string;
  /** Bytes of this file on disk so far (including a resumed part). */
  done: number;
  total: number | undefined;
}

export interface DownloadFileOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Consecutive attempts without progress before giving up (huggingface_hub uses 5). */
  maxStalls?: number;
}

function acquireLock(lockPath: string): () => void {
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new HubError('network', `another slm process (pid ${pid}) is downloading this file; lock ${lockPath}`);
      }
      rmSync(lockPath, { force: true }); // stale: its process is gone
    }
  }
  throw new HubError('network', `cannot take the download lock ${lockPath}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function hashFile(path: string, algo: 'sha256' | 'sha1', gitBlobSize?: number): Promise<string> {
  const h = createHash(algo);
  if (gitBlobSize !== undefined) h.update(`blob ${gitBlobSize}\0`);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Verifies a finished download against the announced size and the etag it is named by. */
async function verify(path: string, meta: FileMetadata, what: string): Promise<void> {
  const size = statSync(path).size;
  if (meta.size !== undefined && size !== meta.size) {
    throw new HubError('integrity', `${what}: downloaded ${size} bytes, the Hub announced ${meta.size}`);
  }
  if (/^[0-9a-f]{64}$/.test(meta.etag)) {
    const got = await hashFile(path, 'sha256');
    if (got !== meta.etag) throw new HubError('integrity', `${what}: sha256 ${got} does not match the Hub's ${meta.etag}`);
  } else if (/^[0-9a-f]{40}$/.test(meta.etag)) {
    const got = await hashFile(path, 'sha1', size);
    if (got !== meta.etag) throw new HubError('integrity', `${what}: git blob sha1 ${got} does not match the Hub's ${meta.etag}`);
  }
}

// Downloads in flight in this process, by blob path: two files of one repo with the same
// content (same etag) share one download instead of fighting over one partial file.
const inFlight = new Map<string, Promise<string>>();

/** Makes blobs/<etag> present and returns its path. */
export function downloadBlob(cfg: HubConfig, repoId: string, repoPath: string, meta: FileMetadata, o: DownloadFileOptions = {}): Promise<string> {
  const blob = blobPath(cfg.cacheDir, repoId, meta.etag);
  const running = inFlight.get(blob);
  if (running) return running;
  const p = downloadBlobOnce(cfg, repoId, repoPath, meta, blob, o).finally(() => inFlight.delete(blob));
  inFlight.set(blob, p);
  return p;
}

async function downloadBlobOnce(cfg: HubConfig, repoId: string, repoPath: string, meta: FileMetadata, blob: string, o: DownloadFileOptions): Promise<string> {
  if (existsSync(blob)) return blob;
  const what = `${repoId}/${repoPath}`;
  const partial = `${blob}.slmkit.incomplete`;
  mkdirSync(dirname(blob), { recursive: true });
  const release = acquireLock(join(cfg.cacheDir, '.locks', repoFolderName(repoId), `${meta.etag}.slmkit.lock`));
  try {
    let stalls = 0;
    const maxStalls = o.maxStalls ?? 5;
    for (;;) {
      const have = existsSync(partial) ? statSync(partial).size : 0;
      if (meta.size !== undefined && have === meta.size) break;
      if (meta.size !== undefined && have > meta.size) truncateSync(partial, 0);
      const got = await fetchInto(cfg, meta, partial, have, what, o).catch((e) => {
        if (o.signal?.aborted || e instanceof HubError) throw e;
        return e as Error; // a dropped connection: resume from what arrived
      });
      const now = existsSync(partial) ? statSync(partial).size : 0;
      if (got === 'complete' && (meta.size === undefined || now === meta.size)) break;
      stalls = now > have ? 0 : stalls + 1;
      if (stalls >= maxStalls) throw new HubError('network', `${what}: the download stopped making progress (${now} bytes after ${maxStalls} tries)${got === 'complete' ? '' : `: ${got.message}`}`);
    }
    await verify(partial, meta, what).catch((e) => {
      rmSync(partial, { force: true }); // bad bytes must not be resumed
      throw e;
    });
    renameSync(partial, blob);
    return blob;
  } finally {
    release();
  }
}

/** One GET from `from` bytes on, appended to the partial file. 'complete' when the body ended cleanly. */
async function fetchInto(cfg: HubConfig, meta: FileMetadata, partial: string, from: number, what: string, o: DownloadFileOptions): Promise<'complete'> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (from > 0) headers.range = `bytes=${from}-`;
  const downloadCfg = meta.downloadIsHub ? cfg : { ...cfg, token: undefined };
  const res = await hubFetch(downloadCfg, meta.downloadUrl, what, { headers, signal: o.signal });
  const progressPath = what.slice(what.indexOf('/', what.indexOf('/') + 1) + 1);
  raiseForStatus(res, what, cfg);
  if (res.status === 416 && meta.size !== undefined && from === meta.size) return 'complete';
  if (res.status !== 200 && res.status !== 206) throw new HubError('network', `${what}: unexpected HTTP ${res.status}`);
  let offset = from;
  if (res.status === 200 && from > 0) {
    truncateSync(partial, 0); // the server ignored the range: start over
    offset = 0;
  } else if (res.status === 206) {
    const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== from) throw new HubError('network', `${what}: the server answered range ${res.headers.get('content-range')} for bytes=${from}-`);
  }
  const fd = openSync(partial, offset === 0 ? 'w' : 'a');
  try {
    if (!res.body) return 'complete';
    const stall = new AbortController();
    let timer = setTimeout(() => stall.abort(), cfg.timeoutMs);
    const reader = res.body.getReader();
    const onStall = () => reader.cancel(new Error(`no data for ${cfg.timeoutMs} ms`)).catch(() => {});
    stall.signal.addEventListener('abort', onStall);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (o.signal?.aborted) throw o.signal.reason;
        writeSync(fd, value);
        offset += value.length;
        clearTimeout(timer);
        timer = setTimeout(() => stall.abort(), cfg.timeoutMs);
        o.onProgress?.({ path: progressPath, done: offset, total: meta.size });
      }
    } finally {
      clearTimeout(timer);
    }
    if (stall.signal.aborted) throw new Error(`no data for ${cfg.timeoutMs} ms`);
    return 'complete';
  } finally {
    closeSync(fd);
  }
}
