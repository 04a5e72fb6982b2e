import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { trainBpe, type TrainedBpe } from '../../src/tokenizer-train/bpe-trainer.ts';
import { WordCounter } from '../../src/tokenizer-train/word-counter.ts';
import { ALPHABET_BYTES, BYTE_TO_UNICODE, toByteLevel } from '../../src/tokenizer-train/byte-level.ts';
import { tokenizerJsonText } from '../../src/tokenizer-train/tokenizer-json.ts';
import { trainBpeFromFiles, writeTokenizerJson } from '../../src/tokenizer-train/train-files.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARED = join(ROOT, '..', 'shared');
const DATASETS = join(SHARED, 'datasets');

function countWords(text: string, specials: string[] = []): Map<string, number> {
  const c = new WordCounter(specials);
  c.add(text);
  return c.counts;
}

function loadHf(model: TrainedBpe): Tokenizer {
  return new Tokenizer(JSON.parse(tokenizerJsonText(model)), { clean_up_tokenization_spaces: false });
}

test('byte alphabet: 256 distinct visible symbols, ordered like GPT-2 ids', () => {
  assert.equal(new Set(BYTE_TO_UNICODE).size, 256);
  // GPT-2: '!' (byte 33) is id 0, 'Ā' (U+0100, byte 0) is id 188, 'Ġ' (space, byte 32) is id 220.
  assert.equal(ALPHABET_BYTES[0], 33);
  assert.equal(ALPHABET_BYTES[188], 0);
  assert.equal(ALPHABET_BYTES[220], 32);
  assert.equal(toByteLevel(' héllo'), 'ĠhÃ©llo');
});

test('reproduces a hand-checked merge sequence', () => {
  // Words are separated by "\n" (its own pre-token, one byte, so it makes no pairs):
  //   hug×10  pug×5  pun×12  bun×4  hugs×5
  // Initial pair counts: (h,u)=10+5=15  (u,g)=10+5+5=20  (p,u)=5+12=17  (u,n)=12+4=16
  //                      (b,u)=4  (g,s)=5
  // 1. (u,g) 20 → ug.   Words: h·ug p·ug p·u·n b·u·n h·ug·s
  //    Counts: (h,ug)=15 (p,ug)=5 (p,u)=12 (u,n)=16 (b,u)=4 (ug,s)=5
  // 2. (u,n) 16 → un.   Counts: (h,ug)=15 (p,ug)=5 (p,un)=12 (b,un)=4 (ug,s)=5
  // 3. (h,ug) 15 → hug. Counts: (p,ug)=5 (p,un)=12 (b,un)=4 (hug,s)=5
  // 4. (p,un) 12 → pun. Counts: (p,ug)=5 (b,un)=4 (hug,s)=5
  // 5. Tie at 5 between (p,ug) and (hug,s). Ties go to the smaller id pair: 'p' is byte
  //    symbol id 112-33=79, 'hug' is id 258 (third merge), so (p,ug) → pug. (Ordering by the
  //    strings instead would pick (hug,s): this checks the id-based rule HF uses.)
  // 6. (hug,s) 5 → hugs.
  // 7. (b,un) 4 → bun. Then no pair is left.
  const text =
    'hug\n'.repeat(10) + 'pug\n'.repeat(5) + 'pun\n'.repeat(12) + 'bun\n'.repeat(4) + 'hugs\n'.repeat(5);
  const model = trainBpe(countWords(text), { vocabSize: 1000, minFrequency: 1 });
  assert.deepEqual(model.merges, [
    ['u', 'g'],
    ['u', 'n'],
    ['h', 'ug'],
    ['p', 'un'],
    ['p', 'ug'],
    ['hug', 's'],
    ['b', 'un'],
  ]);
  assert.equal(model.vocab.length, 256 + 7);
  assert.deepEqual(model.vocab.slice(256), ['ug', 'un', 'hug', 'pun', 'pug', 'hugs', 'bun']);

  // min frequency 5 drops the last merge (count 4); vocab size caps the number of merges.
  const min5 = trainBpe(countWords(text), { vocabSize: 1000, minFrequency: 5 });
  assert.deepEqual(min5.merges.map((m) => m.join('')), ['ug', 'un', 'hug', 'pun', 'pug', 'hugs']);
  const capped = trainBpe(countWords(text), { vocabSize: 256 + 3, minFrequency: 1 });
  assert.deepEqual(capped.merges.map((m) => m.join('')), ['ug', 'un', 'hug']);
});

test('special tokens come first in the vocab and are never split or merged', () => {
  const specials = ['<|endoftext|>', '<pad>'];
  const text = 'the cat sat<|endoftext|>the dog sat<|endoftext|>'.repeat(50);
  const model = trainBpe(countWords(text, specials), { vocabSize: 400, minFrequency: 2, specialTokens: specials });
  assert.deepEqual(model.vocab.slice(0, 2), specials);
  assert.equal(model.vocab[2], '!');
  // Nothing learned from the pieces of the special token.
  assert.ok(!model.vocab.some((t, i) => i >= 2 + 256 && (t.includes('<') || t.includes('|') || t.includes('endof'))));
  const tok = loadHf(model);
  const ids = tok.encode('a cat<|endoftext|><pad> sat').ids;
  assert.ok(ids.includes(0) && ids.includes(1), `special ids kept whole: ${ids}`);
  assert.equal(ids.filter((i: number) => i === 0).length, 1);
  assert.equal(tok.decode(ids), 'a cat<|endoftext|><pad> sat');
});

test('min frequency: every merge had count >= min at the time; fewer merges with a higher min', () => {
  const text = 'abc abd abe xyz xyz ' + 'hello world '.repeat(3);
  const lo = trainBpe(countWords(text), { vocabSize: 2000, minFrequency: 1 });
  const hi = trainBpe(countWords(text), { vocabSize: 2000, minFrequency: 3 });
  assert.ok(hi.merges.length < lo.merges.length);
  // With min 3, "xyz" (twice) must not be learned, while "hello" (3 times) is.
  assert.ok(!hi.vocab.includes('Ġxyz') && !hi.vocab.includes('xy'));
  assert.ok(hi.vocab.includes('Ġhello'));
  assert.ok(lo.vocab.includes('Ġxyz'));
});

/** Slow reference: recount all pairs before every merge (same tie-break). */
function naiveTrain(counts: Map<string, number>, vocabSize: number, minFrequency: number): string[] {
  const idOf = new Map<string, number>();
  const vocab: string[] = [];
  for (const b of ALPHABET_BYTES) {
    idOf.set(BYTE_TO_UNICODE[b], vocab.length);
    vocab.push(BYTE_TO_UNICODE[b]);
  }
  const words = [...counts].map(([w, c]) => ({ s: [...toByteLevel(w)].map((ch) => idOf.get(ch)!), c }));
  const merges: string[] = [];
  while (vocab.length < vocabSize) {
    const pc = new Map<string, number>();
    for (const { s, c } of words) for (let i = 0; i + 1 < s.length; i++) pc.set(`${s[i]},${s[i + 1]}`, (pc.get(`${s[i]},${s[i + 1]}`) ?? 0) + c);
    let best: [number, number] | null = null;
    let bestC = 0;
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number);
      if (c > bestC || (c === bestC && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestC = c;
      }
    }
    if (!best || bestC < minFrequency) break;
    const str = vocab[best[0]] + vocab[best[1]];
    let id = idOf.get(str);
    if (id === undefined) {
      id = vocab.length;
      idOf.set(str, id);
      vocab.push(str);
    }
    merges.push(`${vocab[best[0]]} ${vocab[best[1]]}`);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.s.length; i++) {
        if (i + 1 < w.s.length && w.s[i] === best[0] && w.s[i + 1] === best[1]) {
          out.push(id);
          i++;
        } else out.push(w.s[i]);
      }
      w.s = out;
    }
  }
  return merges;
}

test('incremental counts agree with a recount-everything reference', () => {
  // Mixed scripts, repeats ("aaaa" overlapping pairs) and digits exercise the bookkeeping.
  const text =
    'The quick brown fox jumps over the lazy dog. aaaa aaa aa a. 1234 12345 123! ' +
    'Über naïve café — 東京 東京都 日本. ' +
    "It's the fox's den; they'll see what we've done. ".repeat(3) +
    'the then there these those thee thy thou '.repeat(4);
  const counts = countWords(text);
  const fast = trainBpe(counts, { vocabSize: 256 + 120, minFrequency: 1 }).merges.map((m) => m.join(' '));
  const slow = naiveTrain(counts, 256 + 120, 1);
  assert.deepEqual(fast, slow);
});

test('tokenizer.json loads in @huggingface/tokenizers and round-trips exactly', () => {
  const text = 'Hello world! Hello there, world.\n\nTabs\tand  double  spaces   end.\n' + 'café naïve 東京 🙂🙃 x = 3.14159;\r\n'.repeat(5);
  const model = trainBpe(countWords(text, ['<|endoftext|>']), { vocabSize: 330, minFrequency: 2, specialTokens: ['<|endoftext|>'] });
  const json = JSON.parse(tokenizerJsonText(model));
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.pre_tokenizer.type, 'ByteLevel');
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.deepEqual(json.added_tokens[0], { id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  assert.equal(Object.keys(json.model.vocab).length, model.vocab.length);
  assert.equal(json.model.merges.length, model.merges.length);

  const tok = loadHf(model);
  for (const s of [text, ' leading space', 'unseen: ζ∑ ☃ \u0000 \u00ff', "don't won't", 'a<|endoftext|>b', '  \n\n ']) {
    const ids = tok.encode(s).ids;
    assert.ok(ids.every((i: number) => i >= 0 && i < model.vocab.length));
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
  }
  // The learned merges are used: "Hello" is one token after training on it.
  assert.deepEqual(tok.tokenize('Hello world'), ['Hello', 'Ġworld']);
});

test('trains from files and writes tokenizer.json + tokenizer_config.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-bpe-'));
  try {
    writeFileSync(join(dir, 'a.txt'), 'one fish two fish\nred fish blue fish\n'.repeat(20));
    writeFileSync(join(dir, 'b.jsonl'), JSON.stringify({ text: 'fish and chips' }) + '\n' + JSON.stringify({ prompt: 'say fish', response: 'fish' }) + '\n');
    writeFileSync(join(dir, 'ignored.bin'), 'zzzz zzzz zzzz');
    const r = await trainBpeFromFiles([dir], { vocabSize: 300, minFrequency: 2, specialTokens: ['<|endoftext|>'] });
    assert.deepEqual(r.files.map((f) => f.slice(dir.length + 1)), ['a.txt', 'b.jsonl']);
    assert.ok(r.model.vocab.includes('Ġfish'));
    assert.ok(!r.model.vocab.some((t) => t.includes('zz')));
    const out = join(dir, 'tok', 'tokenizer.json');
    const written = writeTokenizerJson(r.model, out);
    assert.equal(written.length, 2);
    const tok = new Tokenizer(JSON.parse(readFileSync(out, 'utf8')), JSON.parse(readFileSync(written[1], 'utf8')));
    assert.equal(tok.decode(tok.encode('red fish , blue fish .').ids), 'red fish , blue fish .');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shared corpora: vocab 2048 on tinystories + tinyshakespeare, round trip', { skip: !existsSync(DATASETS) && 'needs ../shared (datasets)' }, async () => {
  const files = [join(DATASETS, 'tinystories', 'tinystories_train_head_niklas6.txt'), join(DATASETS, 'tinyshakespeare', 'input.txt')];
  const r = await trainBpeFromFiles(files, { vocabSize: 2048, minFrequency: 2, specialTokens: ['<|endoftext|>'] });
  assert.equal(r.model.vocab.length, 2048);
  assert.equal(r.model.merges.length, 2048 - 257);
  const tok = loadHf(r.model);
  const sample = readFileSync(files[1], 'utf8').slice(0, 5000);
  const ids = tok.encode(sample).ids;
  assert.equal(tok.decode(ids), sample);
  // A 2k vocab on this text compresses to well under one token per 2 characters.
  assert.ok(ids.length < sample.length / 2.5, `${ids.length} tokens for ${sample.length} chars`);
  // Frequent words of both corpora became single tokens (KING opens Shakespeare's speaker lines).
  assert.ok(r.model.vocab.includes('Ġthe') && r.model.vocab.includes('KING'));
});
