// The one Tokenizer implementation: a tokenizer.json-equivalent object run by
// @huggingface/tokenizers, plus what slmkit adds on top — special-token ids resolved from
// the config (or stated directly by GGUF/SentencePiece), BOS/EOS handling per the model's
// config, lossless decode, chat templates and streaming decode.
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { FormatError, SlmError } from '../errors.ts';
import { chatTemplatesOf, renderChatTemplate } from './chat-template.ts';
import { StreamingDecoder } from './streaming-decoder.ts';
import { withUnicodeDigits } from './byte-level-bpe.ts';
import { tokenContent, type SpecialIds, type TokenizerConfig, type TokenizerJson } from './tokenizer-json.ts';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, Tokenizer } from './types.ts';

export interface TokenizerSource {
  json: TokenizerJson;
  config?: TokenizerConfig;
  /** Ids stated by the source itself (GGUF metadata, SentencePiece trainer_spec). */
  specialIds?: SpecialIds;
  /** Where it came from, for error messages. */
  file: string;
}

export interface TokenizerOverrides {
  /** Force BOS on/off for encode(addSpecialTokens), whatever the config says. */
  addBos?: boolean;
  addEos?: boolean;
}

// Used only when neither the config nor the source names a special token.
const FALLBACK_NAMES = {
  bos: ['<s>', '<bos>', '<|begin_of_text|>', '<|startoftext|>'],
  eos: ['</s>', '<eos>', '<|end_of_text|>', '<|endoftext|>'],
  pad: ['<pad>', '[PAD]', '<|pad|>'],
  unk: ['<unk>', '[UNK]', '<|unk|>'],
} as const;

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly chatTemplate: string | undefined;
  /** The tokenizer.json-equivalent this tokenizer runs (for inspection/export). */
  readonly json: TokenizerJson;
  readonly config: TokenizerConfig;

  private readonly lib: LibTokenizer;
  private readonly file: string;
  private readonly specialIds = new Set<number>();
  private readonly prefix: number[];
  private readonly suffix: number[];
  private readonly templates: Map<string, string>;

  constructor(source: TokenizerSource, overrides: TokenizerOverrides = {}) {
    const { file } = source;
    const config = source.config ?? {};
    this.file = file;
    this.config = config;
    const json: TokenizerJson = {
      ...source.json,
      added_tokens: source.json.added_tokens ?? [],
      normalizer: source.json.normalizer ?? null,
      pre_tokenizer: (withUnicodeDigits(source.json.pre_tokenizer) ?? null) as TokenizerJson['pre_tokenizer'],
      post_processor: source.json.post_processor ?? null,
      decoder: source.json.decoder ?? null,
    };
    this.json = json;
    try {
      // Clean-up is applied per call (off by default), never by the library's own default.
      this.lib = new LibTokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new FormatError(file, 'model', `cannot build the tokenizer: ${(e as Error).message}`, { cause: e });
    }

    let maxId = -1;
    for (const id of this.lib.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const ids = source.specialIds ?? {};
    this.bosId = this.resolveSpecial(ids.bos, config.bos_token, 'bos', source.config === undefined);
    this.eosId = this.resolveSpecial(ids.eos, config.eos_token, 'eos', source.config === undefined);
    this.padId = this.resolveSpecial(ids.pad, config.pad_token, 'pad', source.config === undefined);
    const modelUnk = (json.model as { unk_token?: unknown }).unk_token;
    const modelUnkId = (json.model as { unk_id?: unknown }).unk_id;
    this.unkId = this.resolveSpecial(
      ids.unk ?? (typeof modelUnkId === 'number' ? modelUnkId : undefined),
      config.unk_token ?? (typeof modelUnk === 'string' ? modelUnk : undefined),
      'unk',
      source.config === undefined,
    );

    for (const t of json.added_tokens) if (t.special) this.specialIds.add(t.id);
    for (const id of [this.bosId, this.eosId, this.padId, this.unkId]) if (id !== undefined) this.specialIds.add(id);
    for (const key of ['sep_token', 'cls_token', 'mask_token'] as const) {
      const id = this.idOf(tokenContent(config[key]));
      if (id !== undefined) this.specialIds.add(id);
    }
    for (const spec of config.additional_special_tokens ?? []) {
      const id = this.idOf(tokenContent(spec));
      if (id !== undefined) this.specialIds.add(id);
    }

    // Special tokens around a sequence. An explicit add_bos_token/add_eos_token in the config
    // (or an override) wins, as transformers' update_post_processor does for Llama; otherwise
    // the tokenizer.json post-processor decides (RoBERTa <s> A </s>, BERT [CLS] A [SEP], ...).
    const probed = this.probePostProcessor();
    const wantBos = overrides.addBos ?? config.add_bos_token;
    const wantEos = overrides.addEos ?? config.add_eos_token;
    this.prefix = wantBos === undefined ? probed.prefix : wantBos && this.bosId !== undefined ? [this.bosId] : [];
    this.suffix = wantEos === undefined ? probed.suffix : wantEos && this.eosId !== undefined ? [this.eosId] : [];
    this.addBos = this.bosId !== undefined && this.prefix.includes(this.bosId);
    this.addEos = this.eosId !== undefined && this.suffix.includes(this.eosId);

    this.templates = chatTemplatesOf(config.chat_template);
    this.chatTemplate = this.templates.get('default') ?? this.templates.values().next().value;
  }

  private idOf(content: string | undefined): number | undefined {
    return content === undefined ? undefined : this.lib.token_to_id(content);
  }

  private resolveSpecial(
    stated: number | undefined,
    spec: TokenizerConfig['bos_token'] | undefined,
    kind: keyof typeof FALLBACK_NAMES,
    noConfig: boolean,
  ): number | undefined {
    // A name in tokenizer_config.json wins; then an id the source states; then, only when
    // there is no config at all, the conventional names.
    const named = tokenContent(spec);
    if (named !== undefined && this.idOf(named) !== undefined) return this.idOf(named);
    if (stated !== undefined && stated >= 0) {
      if (stated >= this.vocabSize) throw new FormatError(this.file, `${kind}_token_id`, `id ${stated} >= vocabulary size ${this.vocabSize}`);
      return stated;
    }
    if (named !== undefined || spec === null || !noConfig) return undefined;
    for (const name of FALLBACK_NAMES[kind]) {
      const id = this.idOf(name);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** What the tokenizer.json post-processor puts around a sequence. */
  private probePostProcessor(): { prefix: number[]; suffix: number[] } {
    if (!this.json.post_processor) return { prefix: [], suffix: [] };
    const bare: number[] = this.lib.encode('a', { add_special_tokens: false }).ids;
    const full: number[] = this.lib.encode('a', { add_special_tokens: true }).ids;
    for (let i = 0; i + bare.length <= full.length; i++) {
      if (bare.every((id, k) => full[i + k] === id)) return { prefix: full.slice(0, i), suffix: full.slice(i + bare.length) };
    }
    throw new FormatError(this.file, 'post_processor', 'post-processor changes the tokens of the text itself; unsupported');
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    if (opts.addSpecialTokens === false) return ids;
    return [...this.prefix, ...ids, ...this.suffix];
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    // Ids with no token (embedding rows past the vocabulary, e.g. phi-2's 50295..51199)
    // decode to nothing, as in the Rust tokenizers.
    const kept = ids.filter(
      (id) => Number.isInteger(id) && this.lib.id_to_token(id) !== undefined && !(opts.skipSpecialTokens && this.specialIds.has(id)),
    );
    if (kept.length === 0) return '';
    return this.lib.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? false });
  }

  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const name = opts.templateName ?? 'default';
    const template = this.templates.get(name) ?? (opts.templateName === undefined ? this.chatTemplate : undefined);
    if (template === undefined) {
      throw new SlmError(
        'NOT_FOUND',
        this.templates.size === 0
          ? `${this.file}: this tokenizer has no chat template`
          : `${this.file}: no chat template named "${name}" (have: ${[...this.templates.keys()].join(', ')})`,
      );
    }
    const str = (id: number | undefined) => (id === undefined ? undefined : this.lib.id_to_token(id));
    return renderChatTemplate(
      template,
      messages,
      opts,
      {
        bos_token: tokenContent(this.config.bos_token) ?? str(this.bosId),
        eos_token: tokenContent(this.config.eos_token) ?? str(this.eosId),
        unk_token: tokenContent(this.config.unk_token) ?? str(this.unkId),
        pad_token: tokenContent(this.config.pad_token) ?? str(this.padId),
      },
      this.file,
    );
  }

  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    const ids = this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
    // Templates such as Llama-2's or Phi-3's start with {{ bos_token }}; adding the
    // tokenizer's own BOS as well would give the model <s><s>.
    const prefix = this.bosId !== undefined && ids[0] === this.bosId && this.prefix.at(-1) === this.bosId ? this.prefix.slice(0, -1) : this.prefix;
    const suffix = this.eosId !== undefined && ids.at(-1) === this.eosId && this.suffix[0] === this.eosId ? this.suffix.slice(1) : this.suffix;
    return [...prefix, ...ids, ...suffix];
  }

  streamingDecoder(opts: DecodeOptions = {}): StreamingDecoder {
    return new StreamingDecoder(this, opts);
  }
}
