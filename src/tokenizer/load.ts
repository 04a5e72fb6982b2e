// loadTokenizer(path): one entry point for every place a vocabulary can live.
//   model folder  -> tokenizer.json, else tokenizer.model (spiece.model, ...), else
//                    vocab.json + merges.txt, else a single *.gguf; with tokenizer_config.json,
//                    special_tokens_map.json, added_tokens.json and chat_template.jinja
//   *.json        -> tokenizer.json (sibling tokenizer_config.json when the name is tokenizer.json)
//   *.model       -> SentencePiece ModelProto
//   *.gguf        -> GGUF vocabulary metadata
import { existsSync, readdirSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FormatError, SlmError } from '../errors.ts';
import { byteLevelBpeJson, parseMergesTxt, parseVocabJson } from './byte-level-bpe.ts';
import { ggufTokenizerSource } from './gguf-vocab.ts';
import { HfTokenizer, type TokenizerOverrides, type TokenizerSource } from './hf-tokenizer.ts';
import { parseSentencePieceModel } from './sentencepiece-model.ts';
import { spmToTokenizerJson } from './spm-convert.ts';
import { tokenContent, type AddedTokenJson, type TokenizerConfig, type TokenizerJson } from './tokenizer-json.ts';

export interface LoadTokenizerOptions extends TokenizerOverrides {
  /** tokenizer_config.json contents or its path, when it is not next to the tokenizer file. */
  config?: TokenizerConfig | string;
}

const SPM_NAMES = ['tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model'];

export async function loadTokenizer(path: string, opts: LoadTokenizerOptions = {}): Promise<HfTokenizer> {
  if (!existsSync(path)) throw new SlmError('NOT_FOUND', `${path}: no such file or folder`);
  const explicitConfig = typeof opts.config === 'string' ? await readJsonObject(opts.config) : opts.config;
  let source: TokenizerSource;
  if (statSync(path).isDirectory()) {
    const config = explicitConfig ?? (await readFolderConfig(path));
    source = await folderSource(path, config);
  } else {
    const folderConfig = basename(path) === 'tokenizer.json' || SPM_NAMES.includes(basename(path)) ? await readFolderConfig(dirname(path)) : undefined;
    source = await fileSource(path, explicitConfig ?? folderConfig);
  }
  return new HfTokenizer(source, opts);
}

async function folderSource(dir: string, config: TokenizerConfig | undefined): Promise<TokenizerSource> {
  const at = (name: string) => join(dir, name);
  if (existsSync(at('tokenizer.json'))) return fileSource(at('tokenizer.json'), config);
  for (const name of SPM_NAMES) if (existsSync(at(name))) return fileSource(at(name), config);
  if (existsSync(at('vocab.json')) && existsSync(at('merges.txt'))) {
    const addedTokensJson = existsSync(at('added_tokens.json')) ? await readJsonObject(at('added_tokens.json')) : undefined;
    return {
      json: tokenizerJsonFromVocabMerges(
        parseVocabJson(await readFile(at('vocab.json'), 'utf8'), at('vocab.json')),
        parseMergesTxt(await readFile(at('merges.txt'), 'utf8'), at('merges.txt')),
        config ?? {},
        addedTokensJson as Record<string, number> | undefined,
      ),
      config,
      file: at('vocab.json'),
    };
  }
  const ggufs = readdirSync(dir).filter((f) => f.endsWith('.gguf'));
  if (ggufs.length === 1) return fileSource(at(ggufs[0]), config);
  throw new SlmError(
    'NOT_FOUND',
    `${dir}: no tokenizer found (looked for tokenizer.json, ${SPM_NAMES.join(', ')}, vocab.json+merges.txt${ggufs.length > 1 ? '; several .gguf files, name one' : ', a .gguf'})`,
  );
}

async function fileSource(file: string, config: TokenizerConfig | undefined): Promise<TokenizerSource> {
  const kind = await sniff(file);
  if (kind === 'gguf') {
    const src = await ggufTokenizerSource(file);
    // A folder's tokenizer_config.json (if any) refines the GGUF's own settings.
    return config ? { ...src, config: { ...src.config, ...config } } : src;
  }
  if (kind === 'json') {
    const json = (await readJsonObject(file)) as TokenizerJson;
    if (!json.model || typeof json.model !== 'object') throw new FormatError(file, 'model', 'missing: not a tokenizer.json');
    return { json, config, file };
  }
  return sentencePieceSource(await readFile(file), file, config);
}

/** Builds a tokenizer source from SentencePiece ModelProto bytes. */
export function sentencePieceSource(bytes: Uint8Array, file: string, config: TokenizerConfig | undefined): TokenizerSource {
  const spm = parseSentencePieceModel(bytes, file);
  const cfg: TokenizerConfig = { ...config };
  // Without a config, follow the model families these files come from: SentencePiece BPE
  // is Llama-style (BOS on); Unigram models are T5-style only when the config says so.
  if (cfg.add_bos_token === undefined) cfg.add_bos_token = spm.modelType === 'bpe';
  if (cfg.add_eos_token === undefined) cfg.add_eos_token = /^T5/.test(String(cfg.tokenizer_class ?? ''));
  const id = (v: number) => (v >= 0 ? v : undefined);
  return {
    json: spmToTokenizerJson(spm, file),
    config: cfg,
    // The config's token names (if any) win over these trainer_spec ids; see HfTokenizer.
    specialIds: { bos: id(spm.bosId), eos: id(spm.eosId), unk: id(spm.unkId), pad: id(spm.padId) },
    file,
  };
}

async function sniff(file: string): Promise<'gguf' | 'json' | 'spm'> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.toString('latin1') === 'GGUF') return 'gguf';
    const first = String.fromCharCode(head[0]);
    if (file.endsWith('.json') || first === '{') return 'json';
    return 'spm';
  } finally {
    await fh.close();
  }
}

async function readJsonObject(file: string): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, undefined, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError(file, undefined, 'expected a JSON object');
  return v as Record<string, unknown>;
}

/** tokenizer_config.json + special_tokens_map.json (+ chat_template.jinja) of a model folder. */
export async function readFolderConfig(dir: string): Promise<TokenizerConfig | undefined> {
  const cfgPath = join(dir, 'tokenizer_config.json');
  const mapPath = join(dir, 'special_tokens_map.json');
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (!existsSync(cfgPath) && !existsSync(mapPath) && !existsSync(jinjaPath)) return undefined;
  const config: TokenizerConfig = existsSync(cfgPath) ? ((await readJsonObject(cfgPath)) as TokenizerConfig) : {};
  if (existsSync(mapPath)) {
    // As in transformers: tokenizer_config.json wins; the map fills what it leaves out.
    for (const [k, v] of Object.entries(await readJsonObject(mapPath))) if (config[k] === undefined) config[k] = v;
  }
  // Newer checkpoints keep the template in its own file, which takes precedence.
  if (existsSync(jinjaPath)) config.chat_template = await readFile(jinjaPath, 'utf8');
  return config;
}

/**
 * tokenizer.json for a GPT-2 style folder (vocab.json + merges.txt): special tokens named
 * in the config, added_tokens.json and the config's added_tokens_decoder become added
 * tokens; RoBERTa-family configs get `<s> A </s>`.
 */
export function tokenizerJsonFromVocabMerges(
  vocab: Record<string, number>,
  merges: [string, string][],
  config: TokenizerConfig,
  addedTokensJson?: Record<string, number>,
): TokenizerJson {
  const added = new Map<number, AddedTokenJson>();
  const specialContents = new Set<string>();
  const specSources = [config.bos_token, config.eos_token, config.unk_token, config.pad_token, config.sep_token, config.cls_token, config.mask_token, ...(config.additional_special_tokens ?? [])];
  for (const spec of specSources) {
    const content = tokenContent(spec);
    if (content !== undefined) specialContents.add(content);
  }
  const add = (t: AddedTokenJson) => {
    const prev = added.get(t.id);
    added.set(t.id, { ...prev, ...t });
  };
  for (const spec of specSources) {
    const content = tokenContent(spec);
    if (content === undefined) continue;
    const id = vocab[content] ?? addedTokensJson?.[content];
    if (id === undefined) continue;
    const o: { lstrip?: boolean; rstrip?: boolean } = typeof spec === 'object' && spec ? spec : {};
    add({ id, content, single_word: false, lstrip: o.lstrip ?? false, rstrip: o.rstrip ?? false, normalized: false, special: true });
  }
  for (const [content, id] of Object.entries(addedTokensJson ?? {})) {
    if (!Number.isInteger(id)) continue;
    if (!added.has(id)) add({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !specialContents.has(content), special: specialContents.has(content) });
  }
  for (const [idStr, t] of Object.entries(config.added_tokens_decoder ?? {})) {
    const id = Number(idStr);
    if (!Number.isInteger(id) || !t || typeof t.content !== 'string') continue;
    add({ id, content: t.content, single_word: t.single_word ?? false, lstrip: t.lstrip ?? false, rstrip: t.rstrip ?? false, normalized: t.normalized ?? !t.special, special: t.special ?? false });
  }
  // Added tokens outside vocab.json extend it (phi-2's whitespace runs, 50257..50294).
  const fullVocab: Record<string, number> = Object.assign(Object.create(null), vocab);
  for (const t of added.values()) if (!(t.content in fullVocab)) fullVocab[t.content] = t.id;

  let roberta: { cls: [string, number]; sep: [string, number] } | undefined;
  if (/roberta|bart|longformer/i.test(String(config.tokenizer_class ?? ''))) {
    const cls = tokenContent(config.cls_token) ?? tokenContent(config.bos_token) ?? '<s>';
    const sep = tokenContent(config.sep_token) ?? tokenContent(config.eos_token) ?? '</s>';
    if (fullVocab[cls] !== undefined && fullVocab[sep] !== undefined) roberta = { cls: [cls, fullVocab[cls]], sep: [sep, fullVocab[sep]] };
  }
  return byteLevelBpeJson({
    vocab: fullVocab,
    merges,
    addedTokens: [...added.values()].sort((a, b) => a.id - b.id),
    addPrefixSpace: config.add_prefix_space ?? false,
    roberta,
  });
}
