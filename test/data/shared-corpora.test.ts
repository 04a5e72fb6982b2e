// End to end on the shared corpora with the real GPT-2 tokenizer: stream → tokenize → cache →
// split → pack. Skips when ../shared is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadTokenizedCorpus, numDocuments } from '../../src/data/token-cache.ts';
import { splitDocuments } from '../../src/data/split.ts';
import { BatchIterator, IGNORE_INDEX, PackedRows } from '../../src/data/packing.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARED = join(ROOT, '..', 'shared');
const STORIES = join(SHARED, 'datasets', 'tinystories');
const GPT2 = join(SHARED, 'fixtures', 'tokenizers', 'hf-vocabs');
const skip = !(existsSync(STORIES) && existsSync(GPT2)) && 'needs ../shared (datasets/tinystories, fixtures/tokenizers)';

test('tinystories through the pipeline with the GPT-2 tokenizer', { skip }, async () => {
  const tok = new Tokenizer(
    JSON.parse(readFileSync(join(GPT2, 'gpt2_tokenizer.json'), 'utf8')),
    { ...JSON.parse(readFileSync(join(GPT2, 'gpt2_tokenizer_config.json'), 'utf8')), clean_up_tokenization_spaces: false },
  );
  const EOS = 50256;
  const encode = (s: string) => tok.encode(s, { add_special_tokens: false }).ids;
  const cacheDir = mkdtempSync(join(tmpdir(), 'slm-shared-'));
  try {
    const sample = join(STORIES, 'tinystories_sample_cs336.txt');
    const head = join(STORIES, 'tinystories_train_head_niklas6.txt');
    // Small pieces force the streaming path on the 197 KB file.
    const opts = { encode, tokenizerId: 'gpt2', cacheDir, maxChunkChars: 8192 };
    const first = await loadTokenizedCorpus([sample, head], opts);
    assert.equal(first.cacheHit, false);
    const c = first.corpus;
    // cs336 sample: 5 stories separated by <|endoftext|>; the other file has no separator.
    assert.equal(numDocuments(c), 6);
    // Chunked tokenization equals tokenizing the whole document at once (cuts are at
    // pre-token boundaries, so GPT-2's byte-level BPE gives identical ids).
    const whole = encode(readFileSync(head, 'utf8'));
    assert.deepEqual([...c.tokens.subarray(c.docOffsets[5], c.docOffsets[6])], whole);
    assert.ok(!c.tokens.includes(EOS), 'separators are dropped, not tokenized');
    const again = await loadTokenizedCorpus([sample, head], opts);
    assert.equal(again.cacheHit, true);
    assert.deepEqual(again.corpus.tokens, c.tokens);

    const split = splitDocuments(numDocuments(c), 1, 0);
    const rows = new PackedRows(c, { seqLen: 256, eosId: EOS, seed: 1, documents: split.train });
    const it = new BatchIterator(rows, 4);
    const b = it.next();
    assert.equal(b.inputs.length, 4 * 256);
    assert.ok(!b.targets.includes(IGNORE_INDEX));
    // Rows decode back to story text.
    const text = tok.decode([...b.inputs.subarray(0, 256)]);
    assert.match(text, /\b(Lily|Tim|Ben|mom|day|little)\b/);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
