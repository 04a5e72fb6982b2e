// The one folder everything slmkit caches lives under: built ONNX models (onnx/), tokenized
// training corpora (tokens/) and whatever else caches later. $SLMKIT_CACHE names it; otherwise
// it is `slmkit` under the user's cache directory — $XDG_CACHE_HOME or ~/.cache (as Hugging
// Face and pip use on every platform), %LOCALAPPDATA% on Windows. Never the working directory:
// a cache must not depend on where the user happens to stand.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLMKIT_CACHE) return resolve(env.SLMKIT_CACHE);
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'slmkit', 'cache');
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'slmkit');
}

/** A named part of the cache (e.g. 'onnx', 'tokens'). */
export function cacheDir(part: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), part);
}
