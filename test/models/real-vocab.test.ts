// Tiny random Llama 3 and Qwen2 checkpoints around the real Llama 3 and Qwen tokenizer files
// (../shared/fixtures/tokenizers/hf-vocabs/{llama3,qwen3}; hidden 32 so the 128k/152k-row
// embeddings stay small), written as an HF folder and as GGUF by slmkit. The GGUF vocabulary
// route (tokenizer.ggml.pre llama-bpe / qwen2, written from tokenizer.json) must give the ids of
// tokenizer.json: on llama.cpp's test-tokenizer-0 vectors, on tricky strings, and as llama.cpp
// itself tokenizes the same GGUF. Both routes run the same model (equal logits).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LLAMA3_HF, QWEN2_HF, writeRandomModel, type WrittenModel } from './new-archs.ts';
import { llamaCpp, skipReason as noLlamaCpp } from './llama-cpp-helpers.ts';
import { LLAMACPP, MULTIBYTE_TEXT, TOK, llamaCppVectors } from '../tokenizer/helpers.ts';
import { loadCausalLM, type CausalLM } from '../../src/models/load.ts';
import { openGguf } from '../../src/formats/gguf/index.ts';

const HF = join(TOK, 'hf-vocabs');
const NO_FILES = !existsSync(join(HF, 'llama3', 'tokenizer.json')) || !existsSync(join(HF, 'qwen3', 'tokenizer.json')) ? 'needs ../shared/fixtures/tokenizers/hf-vocabs/{llama3,qwen3}' : false;

const SMALL = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 };
const readVocab = (dir: string) => (f: string) => readFileSync(join(HF, dir, f), 'utf8');
/**
 * SmolLM/SmolLM2 ship GPT-2-style vocabularies whose pre-tokenizer splits single digits first
 * (Digits(individual) + ByteLevel; llama.cpp's `smollm` kind). No SmolLM vocabulary is in the
 * fixtures: GPT-2's, with that pre-tokenizer, stands in (the vectors need SmolLM's own ids).
 */
function smollmStyleFiles(): Record<string, string> {
  const json = JSON.parse(readFileSync(join(HF, 'gpt2_tokenizer.json'), 'utf8'));
  json.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] };
  return { 'tokenizer.json': JSON.stringify(json), 'tokenizer_config.json': readFileSync(join(HF, 'gpt2_tokenizer_config.json'), 'utf8') };
}
const CASES = {
  llama3: { files: () => ({ 'tokenizer.json': readVocab('llama3')('tokenizer.json'), 'tokenizer_config.json': readVocab('llama3')('tokenizer_config.json') }), vocab: 'llama3', vectors: 'llama-bpe' as string | undefined, pre: 'llama-bpe', hf: { ...LLAMA3_HF, ...SMALL, vocab_size: 128256, bos_token_id: 128000, eos_token_id: 128009 }, bos: 128000 as number | undefined, eos: ['<|eot_id|>', 128009] as const },
  qwen2: { files: () => ({ 'tokenizer.json': readVocab('qwen3')('tokenizer.json'), 'tokenizer_config.json': readVocab('qwen3')('tokenizer_config.json') }), vocab: 'qwen3', vectors: 'qwen2', pre: 'qwen2', hf: { ...QWEN2_HF, ...SMALL, vocab_size: 151936, bos_token_id: 151643, eos_token_id: 151645 }, bos: undefined, eos: ['<|im_end|>', 151645] as const },
  smollm: { files: smollmStyleFiles, vocab: 'GPT-2 with SmolLM pre-tokenizer', vectors: undefined, pre: 'smollm', hf: { ...LLAMA3_HF, ...SMALL, rope_scaling: null, vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256 }, bos: undefined, eos: ['<|endoftext|>', 50256] as const },
};

// Contractions, digit runs (Llama 3 groups 3, Qwen 1), whitespace runs and newlines, special
// and non-special added tokens inside text, mixed scripts, emoji with ZWJ.
const TRICKY = [
  "I'm sure you'LL see: it's 1234567 dollars, isn't it?",
  '  leading spaces\n\n\ttabs\r\n  and   runs   ',
  'x=3.14159;y=-2e10 // 0xFF',
  '<|im_start|>user\nHi<|im_end|>\n<think>ok</think> <tool_call>',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>',
  MULTIBYTE_TEXT,
  'ｆｕｌｌｗｉｄｔｈ ｄｉｇｉｔｓ １２３ and ﬁ ligatures',
  '\u00a0non-breaking\u2009thin\u3000ideographic space',
];

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Loaded {
  m: WrittenModel;
  folder: CausalLM;
  gguf: CausalLM;
  ggufPath: string;
}
const loaded = new Map<string, Promise<Loaded>>();
function load(name: keyof typeof CASES): Promise<Loaded> {
  if (!loaded.has(name)) {
    loaded.set(
      name,
      (async () => {
        const c = CASES[name];
        const m = await writeRandomModel(c.hf, 3, 0.1, `vocab-${name}`, c.files());
        dirs.push(m.dir);
        const ggufPath = await m.gguf('F32');
        const o = { dtype: 'f32' as const, threads: 1, cacheDir: false as const, context: 64 };
        return { m, ggufPath, folder: await loadCausalLM(m.folder, o), gguf: await loadCausalLM(ggufPath, o) };
      })(),
    );
  }
  return loaded.get(name)!;
}
after(async () => {
  for (const p of loaded.values()) {
    const l = await p;
    await l.folder.dispose();
    await l.gguf.dispose();
  }
});

for (const name of Object.keys(CASES) as (keyof typeof CASES)[]) {
  const c = CASES[name];
  describe(`${name} with the real ${c.vocab} tokenizer`, { skip: NO_FILES }, () => {
    test(`GGUF header: tokenizer.ggml.pre = ${c.pre}, add_bos ${c.bos !== undefined}, chat template kept`, async () => {
      const { ggufPath } = await load(name);
      const g = await openGguf(ggufPath);
      assert.equal(g.metadata['tokenizer.ggml.pre'], c.pre);
      assert.equal(g.metadata['tokenizer.ggml.add_bos_token'], c.bos !== undefined);
      if (name !== 'smollm') assert.equal(typeof g.metadata['tokenizer.chat_template'], 'string');
      assert.ok(!g.tensors.has('output.weight'), 'tied');
      await g.close();
    });

    test("llama.cpp's test-tokenizer-0 vectors: the same ids from tokenizer.json and from the GGUF", { skip: (!c.vectors || !existsSync(join(LLAMACPP, `ggml-vocab-${c.vectors}.gguf.out`))) && 'vector files absent' }, async () => {
      const { folder, gguf } = await load(name);
      const vectors = llamaCppVectors(c.vectors!);
      assert.ok(vectors.length >= 40, `only ${vectors.length} vectors`);
      for (const [route, tok] of [['tokenizer.json', folder.tokenizer], ['GGUF', gguf.tokenizer]] as const) {
        const bad = vectors.filter((v) => JSON.stringify(tok.encode(v.text, { addSpecialTokens: false })) !== JSON.stringify(v.ids));
        assert.deepEqual(bad.map((v) => v.text), [], `${route}: ${bad.length}/${vectors.length} vectors differ`);
      }
    });

    test('tricky strings, special tokens and BOS: both routes agree, and decode round-trips', async () => {
      const { folder, gguf } = await load(name);
      for (const text of TRICKY) {
        const a = folder.tokenizer.encode(text);
        assert.deepEqual(gguf.tokenizer.encode(text), a, JSON.stringify(text));
        assert.equal(gguf.tokenizer.decode(a, { skipSpecialTokens: false }), folder.tokenizer.decode(a, { skipSpecialTokens: false }));
        if (c.bos !== undefined) assert.equal(a[0], c.bos, 'BOS first');
        else assert.notEqual(a[0], c.hf.bos_token_id, 'no BOS');
      }
      const [special, id] = c.eos;
      for (const tok of [folder.tokenizer, gguf.tokenizer]) {
        assert.deepEqual(tok.encode(special, { addSpecialTokens: false }), [id]);
        assert.ok(tok.isSpecial(id));
      }
      assert.deepEqual(folder.eosIds, [id]);
      assert.deepEqual(gguf.eosIds, [id]);
      // The chat templates render as their SOURCE.md files record (jinja2, as transformers runs them).
      const messages = [{ role: 'system' as const, content: 'You are helpful.' }, { role: 'user' as const, content: 'Hi there' }];
      const want: Record<string, string> = {
        llama3: '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
        qwen2: '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
      };
      if (want[name]) {
        assert.equal(folder.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), want[name]);
        assert.equal(gguf.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), want[name]);
      }
    });

    test('llama.cpp tokenizes the same GGUF to the same ids', { skip: noLlamaCpp }, async () => {
      const { folder, ggufPath } = await load(name);
      const model = await llamaCpp!.llama.loadModel({ modelPath: ggufPath, vocabOnly: true });
      try {
        for (const text of [...TRICKY, ...(c.vectors ? llamaCppVectors(c.vectors).map((v) => v.text).slice(0, 20) : [])]) {
          // specialTokens true: text like <|im_end|> is the special token, as tokenizer.json does.
          assert.deepEqual([...model.tokenize(text, true)].map(Number), folder.tokenizer.encode(text, { addSpecialTokens: false }), JSON.stringify(text));
        }
      } finally {
        await model.dispose();
      }
    });

    test('the folder and the GGUF run the same model', async () => {
      const { folder, gguf } = await load(name);
      const ids = folder.tokenizer.encode('The quick brown fox jumps over the lazy dog, 12345 times.');
      const [a] = await folder.createSession().forward([ids], { allLogits: true });
      const [b] = await gguf.createSession().forward([ids], { allLogits: true });
      let worst = 0;
      for (let i = 0; i < ids.length; i++) for (let j = 0; j < a![i]!.length; j++) worst = Math.max(worst, Math.abs(a![i]![j]! - b![i]![j]!));
      assert.equal(a![0]!.length, c.hf.vocab_size);
      assert.ok(worst < 1e-5, `GGUF vs folder logits differ by ${worst}`);
    });
  });
}
