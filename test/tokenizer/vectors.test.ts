// Token ids against published expected vectors, for every tokenizer family in
// ../shared/fixtures/tokenizers and every loading route that family has there, plus
// streaming decode on multi-byte text for each of them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.ts';
import { LLAMACPP, MULTIBYTE_TEXT, NO_SHARED, TOK, llamaCppVectors, phi2WhitespaceTokens, tempModelDir, type Vector } from './helpers.ts';

const HF = join(TOK, 'hf-vocabs');

interface Route {
  name: string;
  load: () => Promise<Tokenizer>;
}

// Each loader runs once per file; several tests share the result.
const cache = new Map<string, Promise<Tokenizer>>();
function route(name: string, key: string, load: () => Promise<Tokenizer>): Route {
  return { name, load: () => (cache.has(key) ? cache.get(key)! : (cache.set(key, load()), cache.get(key)!)) };
}

function folder(files: Parameters<typeof tempModelDir>[0]): Promise<Tokenizer> {
  const { dir, cleanup } = tempModelDir(files);
  return loadTokenizer(dir).finally(cleanup);
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

const llamaJson = route('tokenizer.json + tokenizer_config.json (model folder)', 'llama-json', () =>
  folder({ 'tokenizer.json': join(HF, 'llama_tokenizer.json'), 'tokenizer_config.json': join(HF, 'llama_tokenizer_config.json') }),
);
const llamaSpm = route('tokenizer.model (SentencePiece BPE)', 'llama-spm', () => loadTokenizer(join(TOK, 'llama2.c', 'tokenizer.model')));
const llamaGguf = route('GGUF (tokenizer.ggml.model=llama)', 'llama-gguf', () => loadTokenizer(join(LLAMACPP, 'ggml-vocab-llama-spm.gguf')));
const phi3Gguf = route('GGUF (tokenizer.ggml.model=llama, 64 added tokens)', 'phi3-gguf', () => loadTokenizer(join(LLAMACPP, 'ggml-vocab-phi-3.gguf')));
const gpt2Json = route('tokenizer.json', 'gpt2-json', () => loadTokenizer(join(HF, 'gpt2_tokenizer.json'), { config: join(HF, 'gpt2_tokenizer_config.json') }));
const gpt2Files = route('vocab.json + merges.txt (model folder)', 'gpt2-files', () =>
  folder({ 'vocab.json': join(HF, 'gpt2-vocab.json'), 'merges.txt': join(HF, 'gpt2-merges.txt'), 'tokenizer_config.json': join(HF, 'gpt2_tokenizer_config.json') }),
);
const gpt2Gguf = route('GGUF (tokenizer.ggml.model=gpt2)', 'gpt2-gguf', () => loadTokenizer(join(LLAMACPP, 'ggml-vocab-gpt-2.gguf')));
const robertaFiles = route('vocab.json (RoBERTa) + merges.txt (GPT-2) (model folder)', 'roberta-files', () =>
  folder({
    'vocab.json': join(TOK, 'roberta', 'roberta-base-vocab.json'),
    'merges.txt': join(HF, 'gpt2-merges.txt'),
    // The special tokens of roberta-base's tokenizer_config (seed-models.md §4).
    'tokenizer_config.json': {
      json: { tokenizer_class: 'RobertaTokenizer', bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', sep_token: '</s>', cls_token: '<s>', mask_token: { content: '<mask>', lstrip: true } },
    },
  }),
);
const phi2Json = route('tokenizer.json (GPT-2 + 38 added whitespace tokens) (model folder)', 'phi2-json', () => {
  const json = readJson(join(HF, 'gpt2_tokenizer.json'));
  for (const [content, id] of Object.entries(phi2WhitespaceTokens())) {
    json.added_tokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
  }
  return folder({ 'tokenizer.json': { json }, 'tokenizer_config.json': join(HF, 'gpt2_tokenizer_config.json') });
});
const phi2Files = route('vocab.json + merges.txt + added_tokens.json (model folder)', 'phi2-files', () =>
  folder({
    'vocab.json': join(HF, 'gpt2-vocab.json'),
    'merges.txt': join(HF, 'gpt2-merges.txt'),
    'added_tokens.json': { json: phi2WhitespaceTokens() },
    'tokenizer_config.json': { json: { tokenizer_class: 'CodeGenTokenizer', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', add_prefix_space: false } },
  }),
);
const bertGguf = route('GGUF (tokenizer.ggml.model=bert)', 'bert-gguf', () => loadTokenizer(join(LLAMACPP, 'ggml-vocab-bert-bge.gguf')));
const unigramSpm = route('tokenizer.model (SentencePiece Unigram)', 'unigram-spm', () => loadTokenizer(join(TOK, 'sentencepiece', 'test_model.model')));

interface Family {
  family: string;
  routes: Route[];
  /** Routes this family lacks in the fixtures, with the reason. */
  absent: [string, string][];
}

const LLAMA_CPP_FAMILIES: Family[] = [
  {
    family: 'llama-spm',
    routes: [llamaJson, llamaSpm, llamaGguf],
    absent: [],
  },
  {
    family: 'phi-3',
    routes: [phi3Gguf],
    absent: [['tokenizer.json / tokenizer.model', 'no Phi-3 tokenizer.json or tokenizer.model in the fixtures']],
  },
  {
    family: 'gpt-2',
    routes: [gpt2Json, gpt2Files, gpt2Gguf],
    absent: [['tokenizer.model', 'byte-level BPE: GPT-2 has no SentencePiece model']],
  },
  {
    family: 'roberta-bpe',
    routes: [robertaFiles],
    absent: [
      ['tokenizer.json / GGUF', 'no RoBERTa tokenizer.json or ggml-vocab-roberta-bpe.gguf in the fixtures'],
      ['tokenizer.model', 'byte-level BPE: RoBERTa has no SentencePiece model'],
    ],
  },
  {
    family: 'phi-2',
    routes: [phi2Json, phi2Files],
    absent: [
      ['GGUF', 'ggml-vocab-phi-2.gguf is not in the fixtures (too large)'],
      ['tokenizer.model', 'byte-level BPE: phi-2 has no SentencePiece model'],
    ],
  },
  {
    family: 'bert-bge',
    routes: [bertGguf],
    absent: [['tokenizer.json / vocab.txt', 'no BERT tokenizer.json or vocab.txt in the fixtures']],
  },
];

function mismatches(tok: Tokenizer, vectors: Vector[], addSpecialTokens: boolean): string[] {
  const out: string[] = [];
  for (const v of vectors) {
    const got = tok.encode(v.text, { addSpecialTokens });
    if (JSON.stringify(got) !== JSON.stringify(v.ids)) out.push(`${JSON.stringify(v.text)}: expected [${v.ids}] got [${got}]`);
  }
  return out;
}

/** Pushes ids one at a time; checks no chunk carries a broken character and the sum is decode(). */
function checkStreaming(tok: Tokenizer, text: string): void {
  assert.ok(!text.includes('\uFFFD'));
  const ids = tok.encode(text);
  for (const skipSpecialTokens of [false, true]) {
    const dec = tok.streamingDecoder({ skipSpecialTokens });
    const chunks = ids.map((id) => dec.push(id));
    chunks.push(dec.flush());
    for (const c of chunks) assert.ok(!c.includes('\uFFFD'), `chunk ${JSON.stringify(c)} holds half a character`);
    assert.equal(chunks.join(''), tok.decode(ids, { skipSpecialTokens }), `skipSpecialTokens=${skipSpecialTokens}`);
    assert.equal(dec.text, chunks.join(''));
  }
}

describe('llama.cpp test-tokenizer-0 vectors (no BOS/EOS)', { skip: NO_SHARED }, () => {
  for (const { family, routes, absent } of LLAMA_CPP_FAMILIES) {
    for (const r of routes) {
      test(`${family} via ${r.name}: ids match every vector`, async () => {
        const vectors = llamaCppVectors(family);
        assert.ok(vectors.length >= 46, `only ${vectors.length} vectors read`);
        const bad = mismatches(await r.load(), vectors, false);
        assert.deepEqual(bad, [], `${bad.length}/${vectors.length} vectors differ`);
      });
      test(`${family} via ${r.name}: streaming decode == full decode on emoji/CJK text`, async () => {
        checkStreaming(await r.load(), MULTIBYTE_TEXT);
      });
    }
    for (const [what, why] of absent) test(`${family} via ${what}: route absent`, { skip: why }, () => {});
  }
});

describe('special tokens per route', { skip: NO_SHARED }, () => {
  test('Llama-2 vocab: <s>=1 added, </s>=2 not, on all three routes', async () => {
    for (const r of [llamaJson, llamaSpm, llamaGguf]) {
      const tok = await r.load();
      assert.deepEqual([tok.bosId, tok.eosId, tok.unkId, tok.vocabSize, tok.addBos, tok.addEos], [1, 2, 0, 32000, true, false], r.name);
      assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186], r.name);
      assert.equal(tok.decode([1, 15043, 3186], { skipSpecialTokens: true }), 'Hello world', r.name);
      assert.equal(tok.idToToken(15043), '▁Hello', r.name);
      assert.equal(tok.tokenToId('<0x0A>'), 13, r.name);
    }
  });
  test('phi-3 GGUF: eos/pad 32000 (<|endoftext|>), 32064 tokens, chat tokens are special', async () => {
    const tok = await phi3Gguf.load();
    assert.deepEqual([tok.bosId, tok.eosId, tok.padId, tok.vocabSize, tok.addBos], [1, 32000, 32000, 32064, true]);
    assert.equal(tok.tokenToId('<|user|>'), 32010);
    assert.ok(tok.isSpecial(32010));
    assert.deepEqual(tok.encode('<|user|>', { addSpecialTokens: false }), [32010]);
  });
  test('GPT-2: no BOS added; <|endoftext|>=50256 on all three routes', async () => {
    for (const r of [gpt2Json, gpt2Files, gpt2Gguf]) {
      const tok = await r.load();
      assert.deepEqual([tok.bosId, tok.eosId, tok.vocabSize, tok.addBos, tok.addEos], [50256, 50256, 50257, false, false], r.name);
      assert.deepEqual(tok.encode('Hello world'), [15496, 995], r.name);
    }
  });
  test("RoBERTa: '<s> A </s>' (fairseq README: 'Hello world!' -> [0, 31414, 232, 328, 2])", async () => {
    const tok = await robertaFiles.load();
    assert.deepEqual(tok.encode('Hello world!'), [0, 31414, 232, 328, 2]);
    assert.deepEqual([tok.padId, tok.unkId, tok.vocabSize, tok.tokenToId('<mask>')], [1, 3, 50265, 50264]);
  });
  test('phi-2: 50295 tokens; whitespace runs are single added tokens', async () => {
    for (const r of [phi2Json, phi2Files]) {
      const tok = await r.load();
      assert.equal(tok.vocabSize, 50295, r.name);
      assert.deepEqual(tok.encode('a    b', { addSpecialTokens: false }), [64, 50284, 65], r.name);
      assert.equal(tok.decode([64, 50284, 65]), 'a    b', r.name);
    }
  });
  test('BERT GGUF: [CLS] A [SEP]', async () => {
    const tok = await bertGguf.load();
    const ids = tok.encode('hello world');
    assert.deepEqual([ids[0], ids.at(-1)], [101, 102]);
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hello world');
  });
});

describe('llama2.c expected vectors (BOS prepended)', { skip: NO_SHARED }, () => {
  for (const r of [llamaSpm, llamaJson, llamaGguf]) {
    test(`Llama-2 via ${r.name}`, async () => {
      const cases: Vector[] = readJson(join(TOK, 'llama2.c', 'expected_vectors.json')).tokenizer_tests.cases;
      assert.equal(cases.length, 5);
      const bad = mismatches(await r.load(), cases, true);
      assert.deepEqual(bad, []);
    });
  }
});

describe('SentencePiece Unigram vectors (google/sentencepiece test models)', { skip: NO_SHARED }, () => {
  const expected = () => readJson(join(TOK, 'sentencepiece', 'expected_vectors.json'));
  test(`test_model.model via ${unigramSpm.name}: ids match every case`, async () => {
    const { cases } = expected();
    assert.equal(cases.length, 3);
    const tok = await unigramSpm.load();
    assert.deepEqual(mismatches(tok, cases, true), []);
    for (const c of cases as { text: string; pieces: string[] }[]) {
      assert.deepEqual(tok.encode(c.text).map((id) => tok.idToToken(id)), c.pieces);
    }
  });
  test('test_model.model: add_bos/add_eos options, special ids, piece count, unknown character', async () => {
    const tok = await unigramSpm.load();
    assert.deepEqual([tok.unkId, tok.bosId, tok.eosId, tok.padId, tok.vocabSize], [0, 1, 2, undefined, 1000]);
    assert.deepEqual([tok.tokenToId('<unk>'), tok.tokenToId('<s>'), tok.tokenToId('</s>')], [0, 1, 2]);
    const withBos = await loadTokenizer(join(TOK, 'sentencepiece', 'test_model.model'), { addBos: true, addEos: true });
    assert.deepEqual(withBos.encode('Hello world.'), [1, 151, 88, 21, 887, 6, 2]);
    // EncodeAsIds('藤')[1] == 0: a character outside the vocabulary is <unk>.
    assert.equal(tok.encode('藤')[1], 0);
  });
  test('round trip Decode(Encode(x)) == x (test_model.model and test_ja_model.model)', async () => {
    const tok = await unigramSpm.load();
    for (const c of expected().cases as Vector[]) assert.equal(tok.decode(tok.encode(c.text)), c.text);
    const ja = await loadTokenizer(join(TOK, 'sentencepiece', 'test_ja_model.model'));
    assert.equal(ja.vocabSize, 8000);
    for (const s of ['吾輩は猫である。名前はまだ無い。', 'どこで生れたかとんと見当がつかぬ。']) assert.equal(ja.decode(ja.encode(s)), s);
  });
  test('test_model.model: streaming decode == full decode on emoji/CJK text', async () => {
    checkStreaming(await unigramSpm.load(), MULTIBYTE_TEXT);
  });
  for (const what of ['tokenizer.json', 'GGUF']) test(`Unigram via ${what}: route absent`, { skip: 'no T5/Unigram tokenizer.json or GGUF in the fixtures' }, () => {});
});

describe('streaming holds back incomplete UTF-8', { skip: NO_SHARED }, () => {
  test('Llama byte fallback: 🦙 = 4 byte tokens, emitted only with the last', async () => {
    const tok = await llamaSpm.load();
    const ids = tok.encode('🦙', { addSpecialTokens: false });
    assert.deepEqual(ids, [29871, 243, 162, 169, 156]); // "▁" then <0xF0><0x9F><0xA6><0x99>
    const dec = tok.streamingDecoder();
    assert.deepEqual(ids.map((id) => dec.push(id)), ['', '', '', '', '🦙']);
  });
  test('GPT-2 byte-level: a split emoji is never emitted in halves', async () => {
    const tok = await gpt2Gguf.load();
    const ids = tok.encode(' 🦙🦙', { addSpecialTokens: false });
    assert.ok(ids.length > 2);
    const dec = tok.streamingDecoder();
    const chunks = ids.map((id) => dec.push(id));
    assert.ok(chunks.slice(0, -1).includes(''), 'some token ended mid-character');
    assert.equal(chunks.join('') + dec.flush(), ' 🦙🦙');
  });
});
