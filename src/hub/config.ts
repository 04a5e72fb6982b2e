// Where the Hub client talks to and where it caches, from the same environment variables
// huggingface_hub reads, so a Python user's cache is shared both ways (interop-facts §2.2).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HubError } from './errors.ts';

export interface HubConfig {
  /** e.g. https://huggingface.co (no trailing slash). */
  endpoint: string;
  /** The hub cache folder: holds models--org--name/{blobs,refs,snapshots}. */
  cacheDir: string;
  token: string | undefined;
  /** HF_HUB_OFFLINE: never touch the network, answer from the cache only. */
  offline: boolean;
  /** A request or a download that makes no progress for this long fails (HF_HUB_DOWNLOAD_TIMEOUT). */
  timeoutMs: number;
}

const TRUE_VALUES = new Set(['1', 'on', 'yes', 'true']);
const isTrue = (v: string | undefined) => v !== undefined && TRUE_VALUES.has(v.trim().toLowerCase());

export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return env.HF_HOME;
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'huggingface');
}

function readToken(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv) return fromEnv.trim();
  const path = env.HF_TOKEN_PATH || join(hfHome(env), 'token');
  if (!existsSync(path)) return undefined;
  const t = readFileSync(path, 'utf8').trim();
  return t || undefined;
}

/** The configuration from the environment, with explicit overrides winning. */
export function hubConfig(overrides: Partial<HubConfig> = {}, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const endpoint = (overrides.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const cacheDir = overrides.cacheDir ?? env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHome(env), 'hub');
  const timeoutS = Number(env.HF_HUB_DOWNLOAD_TIMEOUT ?? 10);
  return {
    endpoint,
    cacheDir,
    token: overrides.token ?? readToken(env),
    offline: overrides.offline ?? (isTrue(env.HF_HUB_OFFLINE) || isTrue(env.TRANSFORMERS_OFFLINE)),
    timeoutMs: overrides.timeoutMs ?? (Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS * 1000 : 10_000),
  };
}

export interface RepoRef {
  /** org/name */
  repoId: string;
  /** Branch, tag or 40-hex commit; 'main' when not given. */
  revision: string;
}

// Hub repo names: letters, digits, '-', '_', '.'; no '--' or '..' (which would break the cache
// folder name), at most 96 characters per part.
const PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** True when `s` has the shape of `org/name` or `org/name@revision` (it may still be a path). */
export function looksLikeRepoId(s: string): boolean {
  try {
    parseRepoRef(s);
    return true;
  } catch {
    return false;
  }
}

/** Parses `org/name[@revision]`; throws a typed error naming what is wrong. */
export function parseRepoRef(s: string, revision?: string): RepoRef {
  const at = s.indexOf('@');
  const id = at >= 0 ? s.slice(0, at) : s;
  const rev = at >= 0 ? s.slice(at + 1) : revision ?? 'main';
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => PART.test(p) && !p.includes('--') && !p.includes('..') && !p.endsWith('.'))) {
    throw new HubError('invalid-repo-id', `'${s}' is not a Hub model id: expected org/name or org/name@revision`);
  }
  if (!rev || rev.includes('..') || rev.startsWith('/') || /[\0\s]/.test(rev)) {
    throw new HubError('invalid-repo-id', `'${rev}' is not a valid revision`);
  }
  return { repoId: id, revision: rev };
}

export const COMMIT_RE = /^[0-9a-f]{40}$/;
