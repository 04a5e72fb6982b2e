// sentence-transformers folders (all-MiniLM-L6-v2, bge, ...): modules.json lists the pipeline
// Transformer -> Pooling (1_Pooling/config.json) -> optional Normalize (2_Normalize). We run
// the Transformer ourselves and read the rest here. Modules we cannot reproduce (Dense
// projections, weighted-mean / last-token pooling) are a typed error, not a silent skip.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, UnsupportedError } from '../errors.ts';
import type { PoolingConfig } from './encoder-heads.ts';

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, undefined, `not valid JSON: ${(e as Error).message}`);
  }
}

/** Mean pooling, not normalised: what a folder without sentence-transformers files gets. */
export const DEFAULT_POOLING: PoolingConfig = { cls: false, max: false, mean: true, meanSqrtLen: false, normalize: false };

/** The pooling of a sentence-transformers folder, or undefined when it has no modules.json. */
export async function readSentenceTransformersPooling(dir: string): Promise<PoolingConfig | undefined> {
  const modulesFile = join(dir, 'modules.json');
  if (!existsSync(modulesFile)) return undefined;
  const modules = await readJson(modulesFile);
  if (!Array.isArray(modules)) throw new FormatError(modulesFile, undefined, 'expected an array of modules');
  let pooling: PoolingConfig | undefined;
  let normalize = false;
  for (const [i, m] of modules.entries()) {
    const type = String((m as { type?: unknown })?.type ?? '');
    const path = String((m as { path?: unknown })?.path ?? '');
    const kind = type.split('.').at(-1);
    if (kind === 'Transformer') {
      if (path !== '' && path !== '.') throw new UnsupportedError(`${modulesFile}: module ${i} keeps the Transformer in ${path}/; load that folder (slmkit reads the model from the folder's root)`);
    } else if (kind === 'Pooling') {
      const file = join(dir, path, 'config.json');
      if (!existsSync(file)) throw new FormatError(modulesFile, `${i}.path`, `${file} is missing`);
      pooling = parsePoolingConfig(await readJson(file), file);
    } else if (kind === 'Normalize') {
      normalize = true;
    } else {
      throw new UnsupportedError(`${modulesFile}: module ${i} (${type}) is not supported (Transformer, Pooling and Normalize are)`);
    }
  }
  return { ...(pooling ?? DEFAULT_POOLING), normalize };
}

export function parsePoolingConfig(json: unknown, file: string): PoolingConfig {
  if (!json || typeof json !== 'object') throw new FormatError(file, undefined, 'expected an object');
  const j = json as Record<string, unknown>;
  for (const k of ['pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken']) {
    if (j[k] === true) throw new UnsupportedError(`${file}: ${k} is not supported (cls, mean, max and mean_sqrt_len are)`);
  }
  const p: PoolingConfig = {
    cls: j.pooling_mode_cls_token === true,
    max: j.pooling_mode_max_tokens === true,
    mean: j.pooling_mode_mean_tokens === true,
    meanSqrtLen: j.pooling_mode_mean_sqrt_len_tokens === true,
    normalize: false,
  };
  if (!p.cls && !p.max && !p.mean && !p.meanSqrtLen) throw new FormatError(file, 'pooling_mode_*', 'no pooling mode is on');
  return p;
}
