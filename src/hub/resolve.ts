// `<model>` arguments that name a Hub repository (`org/name[@revision]`): resolved from the
// shared cache, downloaded only when the caller allows it (`--pull`). A path that exists always
// wins, so a local folder called org/name is never shadowed by the cache.
import { existsSync } from 'node:fs';
import { hubConfig, looksLikeRepoId, parseRepoRef, type HubConfig } from './config.ts';
import { HubError } from './errors.ts';
import { cachedSnapshot, pull, type PullOptions } from './snapshot.ts';

export interface ResolveOptions {
  /** Download the repository when it is not in the cache. */
  pull?: boolean;
  config?: Partial<HubConfig>;
  signal?: AbortSignal;
  onProgress?: PullOptions['onProgress'];
}

/**
 * The local path for a model argument: the argument itself when it exists on disk, else the
 * cached snapshot of `org/name[@revision]`. Undefined when the argument is neither a path nor a
 * repo id (the caller decides what that means); a repo id that is not cached is an error that
 * names both possibilities.
 */
export async function resolveModelReference(arg: string, o: ResolveOptions = {}): Promise<string | undefined> {
  if (existsSync(arg)) return arg;
  if (!looksLikeRepoId(arg)) return undefined;
  const cfg = hubConfig(o.config);
  const hit = cachedSnapshot(arg, { config: cfg });
  if (hit) return hit.path;
  if (o.pull) return (await pull(arg, { config: cfg, signal: o.signal, onProgress: o.onProgress })).path;
  const { repoId, revision } = parseRepoRef(arg);
  throw new HubError(
    'offline-miss',
    `'${arg}' is neither a file or folder here nor a model in the Hub cache (${cfg.cacheDir}); ` +
      `download it with \`slm pull ${repoId}${revision === 'main' ? '' : `@${revision}`}\` or add --pull`,
  );
}
