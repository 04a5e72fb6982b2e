// The config summary `slm inspect` prints before the tensor list: what a user checks first about
// a download (architecture, size, context, dtype, tokenizer, chat template), from config.json and
// the tokenizer files of a folder or from a GGUF header. Fields that the files do not state are null.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parameterCount, type Checkpoint } from '../formats/checkpoint.ts';

export interface ConfigSummary {
  architecture: string | null;
  layers: number | null;
  hidden_size: number | null;
  heads: number | null;
  kv_heads: number | null;
  context_length: number | null;
  vocab_size: number | null;
  parameters: number;
  /** The dtype holding most parameters (e.g. BF16, Q4_0), with the declared torch_dtype when it differs. */
  dtype: string;
  tokenizer: string | null;
  chat_template: boolean;
}

const firstNumber = (o: Record<string, unknown>, keys: string[]): number | null => {
  for (const k of keys) if (typeof o[k] === 'number' || typeof o[k] === 'bigint') return Number(o[k]);
  return null;
};

/** The dtype with the most elements. */
function mainDtype(ckpt: Checkpoint): string {
  const by = new Map<string, number>();
  for (const t of ckpt.tensors.values()) by.set(t.dtype, (by.get(t.dtype) ?? 0) + t.shape.reduce((a, b) => a * b, 1));
  return [...by.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
}

/** Small JSON files only: a tokenizer.json can be large, and only its model.type is read. */
function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path) || statSync(path).size > 64 * 1024 * 1024) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function folderTokenizer(dir: string): string | null {
  const tj = readJson(join(dir, 'tokenizer.json'));
  if (tj) return `${String((tj.model as { type?: unknown } | undefined)?.type ?? 'unknown')} (tokenizer.json)`;
  if (existsSync(join(dir, 'tokenizer.model'))) return 'SentencePiece (tokenizer.model)';
  if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) return 'BPE (vocab.json + merges.txt)';
  return null;
}

export function folderSummary(dir: string, config: Record<string, unknown>, tokenizerConfig: Record<string, unknown> | undefined, ckpt: Checkpoint): ConfigSummary {
  const main = mainDtype(ckpt);
  const declared = typeof config.torch_dtype === 'string' ? config.torch_dtype : undefined;
  return {
    architecture: typeof config.model_type === 'string' ? config.model_type : null,
    layers: firstNumber(config, ['num_hidden_layers', 'n_layer', 'num_layers']),
    hidden_size: firstNumber(config, ['hidden_size', 'n_embd', 'd_model']),
    heads: firstNumber(config, ['num_attention_heads', 'n_head', 'num_heads']),
    kv_heads: firstNumber(config, ['num_key_value_heads', 'num_attention_heads', 'n_head', 'num_heads']),
    context_length: firstNumber(config, ['max_position_embeddings', 'n_positions', 'n_ctx']),
    vocab_size: firstNumber(config, ['vocab_size']),
    parameters: parameterCount(ckpt.tensors.values()),
    dtype: declared && declared.toLowerCase() !== main.toLowerCase() ? `${main} (config: ${declared})` : main,
    tokenizer: folderTokenizer(dir),
    chat_template: tokenizerConfig?.chat_template !== undefined || existsSync(join(dir, 'chat_template.jinja')),
  };
}

export function ggufSummary(metadata: Record<string, unknown>, ckpt: Checkpoint): ConfigSummary {
  const arch = typeof metadata['general.architecture'] === 'string' ? (metadata['general.architecture'] as string) : '';
  const key = (k: string) => firstNumber(metadata, [`${arch}.${k}`]);
  const tokens = metadata['tokenizer.ggml.tokens'] as ArrayLike<unknown> | undefined;
  const kind = metadata['tokenizer.ggml.model'];
  return {
    architecture: arch || null,
    layers: key('block_count'),
    hidden_size: key('embedding_length'),
    heads: key('attention.head_count'),
    kv_heads: key('attention.head_count_kv') ?? key('attention.head_count'),
    context_length: key('context_length'),
    vocab_size: tokens?.length ?? key('vocab_size') ?? ckpt.tensors.get('token_embd.weight')?.shape[0] ?? null,
    parameters: parameterCount(ckpt.tensors.values()),
    dtype: mainDtype(ckpt),
    tokenizer: typeof kind === 'string' ? `${kind} (GGUF vocabulary)` : null,
    chat_template: typeof metadata['tokenizer.chat_template'] === 'string',
  };
}

/** A bare weights file: only what its tensors say. */
export function weightsOnlySummary(ckpt: Checkpoint): ConfigSummary {
  return { architecture: null, layers: null, hidden_size: null, heads: null, kv_heads: null, context_length: null, vocab_size: null, parameters: parameterCount(ckpt.tensors.values()), dtype: mainDtype(ckpt), tokenizer: null, chat_template: false };
}

export function summaryLines(s: ConfigSummary): string[] {
  const v = (x: number | string | null) => (x === null ? '-' : typeof x === 'number' ? x.toLocaleString('en-US') : x);
  return [
    `architecture:    ${v(s.architecture)}`,
    `layers:          ${v(s.layers)}`,
    `hidden size:     ${v(s.hidden_size)}`,
    `heads:           ${v(s.heads)}${s.kv_heads !== null && s.kv_heads !== s.heads ? ` (${s.kv_heads} key/value)` : ''}`,
    `context:         ${v(s.context_length)}`,
    `vocabulary:      ${v(s.vocab_size)}`,
    `parameters:      ${v(s.parameters)}`,
    `dtype:           ${s.dtype}`,
    `tokenizer:       ${v(s.tokenizer)}`,
    `chat template:   ${s.chat_template ? 'yes' : 'no'}`,
  ];
}
