import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listInputFiles, readRecords, safeCut, type SourceRecord } from '../../src/data/sources.ts';
import { FormatError } from '../../src/errors.ts';
import { GPT2_SPLIT_REGEX } from '../../src/tokenizer-train/byte-level.ts';

async function collect(gen: AsyncGenerator<SourceRecord>): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

/** Joins text pieces back into whole documents. */
function documents(recs: SourceRecord[]): string[] {
  const docs: string[] = [];
  let cur = '';
  for (const r of recs) {
    assert.equal(r.kind, 'text');
    if (r.kind !== 'text') continue;
    cur += r.text;
    if (r.endOfDocument) {
      docs.push(cur);
      cur = '';
    }
  }
  assert.equal(cur, '', 'last piece must end its document');
  return docs;
}

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slm-src-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'folders are walked recursively, only known extensions, hidden entries skipped, sorted',
  withDir(async (dir) => {
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
    mkdirSync(join(dir, '.git'));
    for (const f of ['b.txt', 'a.md', 'sub/c.jsonl', 'sub/deeper/d.ndjson', 'e.bin', '.hidden.txt', '.git/x.txt', 'sub/f.json']) writeFileSync(join(dir, f), 'x');
    const files = listInputFiles([dir, join(dir, 'e.bin')]).map((f) => f.slice(dir.length + 1));
    assert.deepEqual(files, ['a.md', 'b.txt', 'e.bin', 'sub/c.jsonl', 'sub/deeper/d.ndjson']);
    assert.throws(() => listInputFiles([join(dir, 'missing')]), /not found/);
  }),
);

test(
  'plain text: split at <|endoftext|>, BOM stripped, empty and blank documents dropped',
  withDir(async (dir) => {
    const p = join(dir, 't.txt');
    writeFileSync(p, '\ufeffStory one.\n<|endoftext|>Story two.<|endoftext|>\n<|endoftext|>Three');
    assert.deepEqual(documents(await collect(readRecords(p))), ['Story one.\n', 'Story two.', 'Three']);
    assert.deepEqual(documents(await collect(readRecords(p, { documentSeparator: null }))), [
      'Story one.\n<|endoftext|>Story two.<|endoftext|>\n<|endoftext|>Three',
    ]);
  }),
);

test(
  'long documents stream in pieces cut at pre-token boundaries and reassemble exactly',
  withDir(async (dir) => {
    const para = 'The quick brown fox.\n  Indented line, with  spaces.\n\nNew paragraph ok?\n';
    const body = para.repeat(400); // ~27k chars
    const text = body + '<|endoftext|>' + body.slice(0, 5000);
    const p = join(dir, 'long.txt');
    writeFileSync(p, text);
    const recs = await collect(readRecords(p, { maxChunkChars: 1000 }));
    assert.ok(recs.length > 20, `expected many pieces, got ${recs.length}`);
    assert.deepEqual(documents(recs), [body, body.slice(0, 5000)]);
    // Pre-tokenizing piece by piece gives the same pre-tokens as the whole document (a cut
    // after "\n\n" would not: at the end of a piece the run is one pre-token, before a word two).
    const firstDoc: string[] = [];
    for (const r of recs) {
      if (r.kind !== 'text') continue;
      firstDoc.push(r.text);
      if (r.endOfDocument) break;
    }
    assert.deepEqual(
      firstDoc.flatMap((t) => t.match(GPT2_SPLIT_REGEX) ?? []),
      body.match(GPT2_SPLIT_REGEX),
    );
  }),
);

test('safeCut: after a lone newline, else before a lone space, between non-space characters', () => {
  assert.equal(safeCut('ab\ncd  ef', 9), 3);
  assert.equal(safeCut('ab\n\ncd ef', 9), 6); // "\n\n" is a run: fall back to the space
  assert.equal(safeCut('abcd efgh', 9), 4);
  assert.equal(safeCut('abcdefgh', 8), -1);
  assert.equal(safeCut('ab  cd', 6), -1); // a double space is a whitespace run: not safe
});

test(
  'JSONL: text records, prompt/response pairs, and a FormatError naming the line',
  withDir(async (dir) => {
    const p = join(dir, 'd.jsonl');
    writeFileSync(p, [JSON.stringify({ text: 'hello' }), '', JSON.stringify({ prompt: 'Q?', response: 'A.' }), JSON.stringify({ text: 'bye', extra: 1 })].join('\n') + '\n');
    assert.deepEqual(await collect(readRecords(p)), [
      { kind: 'text', text: 'hello', endOfDocument: true },
      { kind: 'pair', prompt: 'Q?', response: 'A.' },
      { kind: 'text', text: 'bye', endOfDocument: true },
    ]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify({ text: 'ok' }) + '\n' + JSON.stringify({ question: 'no' }) + '\n');
    await assert.rejects(collect(readRecords(bad)), (e: unknown) => e instanceof FormatError && /line 2/.test(e.message));
    writeFileSync(bad, '{"text": "unterminated\n');
    await assert.rejects(collect(readRecords(bad)), (e: unknown) => e instanceof FormatError && /invalid JSON/.test(e.message));
  }),
);

test('\\r\\n is read as \\n (also across read chunks and in the separator); keepLineEndings keeps it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-crlf-'));
  try {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${'x'.repeat(i % 7)} end`);
    const crlf = lines.join('\r\n') + '\r\n\r\nsecond doc\r\nlast\r';
    const file = join(dir, 'crlf.txt');
    writeFileSync(file, crlf);
    // Tiny read chunks (highWaterMark follows maxChunkChars), so many fall between \r and \n.
    for (const maxChunkChars of [5, 6, 7, 1 << 20]) {
      const docs = documents(await collect(readRecords(file, { documentSeparator: '\r\n\r\n', maxChunkChars })));
      assert.deepEqual(docs, [lines.join('\n'), 'second doc\nlast\r'], `maxChunkChars ${maxChunkChars}`);
      const kept = documents(await collect(readRecords(file, { documentSeparator: null, maxChunkChars, keepLineEndings: true })));
      assert.equal(kept.join(''), crlf);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
