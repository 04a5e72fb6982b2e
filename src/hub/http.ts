// The Hub's HTTP conventions: headers a client sends, how redirects are followed (same host or
// a Hub host: follow, keeping the token; any other host, i.e. a CDN: stop and read the metadata
// from the redirect itself, and download from it WITHOUT the token), and how error responses
// map to typed errors (X-Error-Code first, as huggingface_hub decides). interop-facts §2.1.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HubError } from './errors.ts';
import type { HubConfig } from './config.ts';

const VERSION = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
})();

const HUB_HOSTS = new Set(['huggingface.co', 'hf.co']);

export function isHubHost(url: URL, cfg: HubConfig): boolean {
  return url.host === new URL(cfg.endpoint).host || HUB_HOSTS.has(url.hostname);
}

export function baseHeaders(cfg: HubConfig, url: URL): Record<string, string> {
  const h: Record<string, string> = {
    'user-agent': `slmkit/${VERSION}; node/${process.versions.node}`,
    'x-amzn-trace-id': randomUUID(),
  };
  if (cfg.token && isHubHost(url, cfg)) h.authorization = `Bearer ${cfg.token}`;
  return h;
}

/** Encodes a revision for a URL path with no safe characters (refs/pr/1 -> refs%2Fpr%2F1). */
export const encodeRevision = (rev: string) => encodeURIComponent(rev);
/** Encodes a file path keeping its '/' separators. */
export const encodeFilePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

function describe(what: string, res: Response): string {
  const msg = res.headers.get('x-error-message');
  return `${what}: HTTP ${res.status}${msg ? ` (${msg})` : ''}`;
}

/** Throws the typed error a non-OK Hub response stands for. `what` names the request for the user. */
export function raiseForStatus(res: Response, what: string, cfg: HubConfig): void {
  if (res.ok || (res.status >= 300 && res.status < 400)) return;
  const code = res.headers.get('x-error-code');
  const tokenHint = cfg.token ? 'the token in use has no access to it' : 'no token was given: set HF_TOKEN or log in (token file HF_HOME/token)';
  if (code === 'GatedRepo') throw new HubError('gated', `${describe(what, res)}: the repository is gated; accept its terms on the Hub and use a token with access (${tokenHint})`, { status: res.status });
  if (code === 'RepoNotFound') throw new HubError('repo-not-found', `${describe(what, res)}: repository not found (or private: ${tokenHint})`, { status: res.status });
  if (code === 'RevisionNotFound') throw new HubError('revision-not-found', `${describe(what, res)}: revision not found`, { status: res.status });
  if (code === 'EntryNotFound') throw new HubError('entry-not-found', `${describe(what, res)}: file not found in the repository`, { status: res.status });
  if (res.status === 401 || res.status === 403) throw new HubError('unauthorized', `${describe(what, res)}: not authorised (${tokenHint})`, { status: res.status });
  if (res.status === 404) throw new HubError('repo-not-found', `${describe(what, res)}: not found`, { status: res.status });
  throw new HubError('network', describe(what, res), { status: res.status });
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Retries on 408/429/5xx and connection errors, with backoff. */
  retries?: number;
}

/** One request with the Hub's headers and a timeout; retries transient failures. Redirects are not followed. */
export async function hubFetch(cfg: HubConfig, url: URL, what: string, o: RequestOptions = {}): Promise<Response> {
  if (cfg.offline) throw new HubError('offline-miss', `${what}: HF_HUB_OFFLINE is set, so no request is made`);
  const retries = o.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const timeout = AbortSignal.timeout(cfg.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(url, { method: o.method ?? 'GET', headers: { ...baseHeaders(cfg, url), ...o.headers }, redirect: 'manual', signal });
    } catch (e) {
      if (o.signal?.aborted) throw e;
      if (attempt < retries) {
        await sleep(250 * 2 ** attempt, o.signal);
        continue;
      }
      throw new HubError('network', `${what}: cannot reach ${url.origin} (${(e as Error).message})`, { cause: e });
    }
    if (RETRY_STATUS.has(res.status) && attempt < retries) {
      await res.body?.cancel();
      await sleep(250 * 2 ** attempt, o.signal);
      continue;
    }
    return res;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** GET of a Hub JSON API route, following same-host redirects (renamed repos). */
export async function hubJson(cfg: HubConfig, url: URL, what: string, signal?: AbortSignal): Promise<{ body: unknown; res: Response }> {
  for (let hops = 0; hops < 20; hops++) {
    const res = await hubFetch(cfg, url, what, { signal });
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.body?.cancel();
      url = new URL(loc, url);
      continue;
    }
    raiseForStatus(res, what, cfg);
    const text = await res.text();
    try {
      return { body: JSON.parse(text), res };
    } catch {
      throw new HubError('bad-response', `${what}: the endpoint did not answer JSON (is HF_ENDPOINT a Hugging Face Hub?)`);
    }
  }
  throw new HubError('bad-response', `${what}: more than 20 redirects`);
}

export interface FileMetadata {
  commit: string;
  /** Normalised etag: the blob's name in the cache (git sha1, or sha256 for LFS files). */
  etag: string;
  size: number | undefined;
  /** Where to GET the bytes (a CDN URL after a redirect to another host, else the resolve URL). */
  downloadUrl: URL;
  /** Whether the download URL is a Hub host (so it may carry the token). */
  downloadIsHub: boolean;
}

/** HEAD of a resolve URL, following Hub-host redirects and reading metadata as huggingface_hub does. */
export async function fileMetadata(cfg: HubConfig, url: URL, what: string, signal?: AbortSignal): Promise<FileMetadata> {
  const resolveUrl = url;
  for (let hops = 0; hops < 20; hops++) {
    const res = await hubFetch(cfg, url, what, { method: 'HEAD', headers: { 'accept-encoding': 'identity' }, signal });
    raiseForStatus(res, what, cfg);
    const loc = res.headers.get('location');
    const redirect = res.status >= 300 && res.status < 400 && loc;
    const next = redirect ? new URL(loc, url) : undefined;
    if (next && isHubHost(next, cfg)) {
      url = next;
      continue;
    }
    const commit = res.headers.get('x-repo-commit');
    const rawEtag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
    if (!commit || !rawEtag) throw new HubError('bad-response', `${what}: the answer has no X-Repo-Commit or ETag header, so ${url.origin} does not seem to be a Hugging Face Hub endpoint`);
    const sizeHeader = res.headers.get('x-linked-size') ?? (redirect ? null : res.headers.get('content-length'));
    const etag = rawEtag.replace(/^W\//, '').replace(/^"|"$/g, '');
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(etag)) throw new HubError('bad-response', `${what}: ETag '${rawEtag}' is not a blob id`);
    return {
      commit,
      etag,
      size: sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined,
      downloadUrl: next ?? resolveUrl,
      downloadIsHub: next ? false : true,
    };
  }
  throw new HubError('bad-response', `${what}: more than 20 redirects`);
}
