// A Hugging Face style model folder: configs, tokenizer configs and weights. The model type
// is decided from config.json (or a GGUF header) before any weights are read, so an
// unsupported model fails in milliseconds with a list of what is supported.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, SlmError, UnsupportedError } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { openGguf } from './gguf/reader.ts';
import { findWeights, openCheckpoint, type WeightsLocation } from './open-checkpoint.ts';

/** Model types slmkit can load. Loaders for new architectures add their `model_type` here. */
export const SUPPORTED_MODEL_TYPES: string[] = ['llama', 'phi', 'roberta', 't5', 'llava', 'bert'];
SUPPORTED_MODEL_TYPES.push('qwen2', 'phi3');

/**
 * Other spellings of a supported type. Deliberately minimal: an alias is only right when the
 * loader for the target handles the aliased checkpoints' config and tensor names. Architectures
 * that merely resemble one we support (mistral, ...) are NOT aliased.
 * - llava_phi: LLaVA-Phi's config.json (`LlavaPhiConfig`); the llava loader sees `declaredModelType`.
 */
export const MODEL_TYPE_ALIASES: Record<string, string> = { llava_phi: 'llava' };

/** GGUF `general.architecture` values that correspond to a supported model type. */
export const GGUF_ARCHITECTURE_TO_MODEL_TYPE: Record<string, string> = { llama: 'llama', phi2: 'phi', t5: 't5', bert: 'bert' };
Object.assign(GGUF_ARCHITECTURE_TO_MODEL_TYPE, { qwen2: 'qwen2', phi3: 'phi3' });

export function canonicalModelType(declared: string): string | undefined {
  const t = MODEL_TYPE_ALIASES[declared] ?? declared;
  return SUPPORTED_MODEL_TYPES.includes(t) ? t : undefined;
}

export interface ModelFolder {
  dir: string;
  /** Supported model type (after aliases); undefined only with allowUnsupported. */
  modelType: string | undefined;
  /** The type exactly as config.json (`model_type`) or the GGUF header (`general.architecture`) states it. */
  declaredModelType: string;
  /** config.json, or {} for a folder that only holds a GGUF. */
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  tokenizerConfig?: Record<string, unknown>;
  specialTokensMap?: Record<string, unknown>;
  weights: WeightsLocation;
  openWeights(): Promise<Checkpoint>;
}

const MAX_JSON = 64 * 1024 * 1024;

async function readJsonIfPresent(path: string): Promise<Record<string, unknown> | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  if (st.size > MAX_JSON) throw new FormatError(path, undefined, `${st.size} bytes is too large for a config file`);
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new FormatError(path, undefined, `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(path, undefined, 'must be a JSON object');
  return v as Record<string, unknown>;
}

/** The declared model type of a folder, from config.json or else its single GGUF file. Reads no weights. */
export async function detectModelType(dir: string): Promise<{ declared: string; source: string }> {
  const configPath = join(dir, 'config.json');
  const config = await readJsonIfPresent(configPath);
  if (config) {
    const t = config.model_type;
    if (typeof t !== 'string' || !t) throw new FormatError(configPath, 'model_type', 'missing; cannot tell which architecture this is');
    return { declared: t, source: configPath };
  }
  const names = await readdir(dir).catch((e) => {
    throw new SlmError('NOT_FOUND', `cannot read folder ${dir}: ${(e as Error).message}`);
  });
  const ggufs = names.filter((n) => n.endsWith('.gguf'));
  if (ggufs.length === 1) {
    const g = await openGguf(join(dir, ggufs[0]));
    await g.close();
    const arch = g.metadata['general.architecture'];
    if (typeof arch !== 'string') throw new FormatError(g.path, 'general.architecture', 'missing; cannot tell which architecture this is');
    return { declared: GGUF_ARCHITECTURE_TO_MODEL_TYPE[arch] ?? arch, source: g.path };
  }
  throw new SlmError('NOT_FOUND', `${dir} has no config.json${ggufs.length > 1 ? ' and several .gguf files' : ''}; cannot tell the model type`);
}

export async function openModelFolder(dir: string, opts: { allowUnsupported?: boolean } = {}): Promise<ModelFolder> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new SlmError('NOT_FOUND', `not a folder: ${dir}`);
  const { declared, source } = await detectModelType(dir);
  const modelType = canonicalModelType(declared);
  if (!modelType && !opts.allowUnsupported) {
    throw new UnsupportedError(
      `model_type '${declared}' (from ${source}) is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}` +
        (Object.keys(MODEL_TYPE_ALIASES).length ? ` (also accepted: ${Object.entries(MODEL_TYPE_ALIASES).map(([a, t]) => `${a} -> ${t}`).join(', ')})` : ''),
    );
  }
  const [config, generationConfig, tokenizerConfig, specialTokensMap] = await Promise.all(
    ['config.json', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((n) => readJsonIfPresent(join(dir, n))),
  );
  const weights = await findWeights(dir);
  return {
    dir,
    modelType,
    declaredModelType: declared,
    config: config ?? {},
    generationConfig,
    tokenizerConfig,
    specialTokensMap,
    weights,
    openWeights: () => openCheckpoint(weights.path),
  };
}
