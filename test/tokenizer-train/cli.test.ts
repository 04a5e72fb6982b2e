import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Tokenizer } from '@huggingface/tokenizers';
import { main } from '../../src/cli/main.ts';

function capture() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d) => (text += d));
  return { stream: s, text: () => text };
}

test('slm tokenizer train writes a loadable tokenizer.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-tokcli-'));
  try {
    writeFileSync(join(dir, 'corpus.txt'), 'the cat sat on the mat<|endoftext|>the dog sat on the log\n'.repeat(30));
    const out = join(dir, 'tokenizer.json');
    const stdout = capture();
    const stderr = capture();
    const rc = await main(
      ['tokenizer', 'train', join(dir, 'corpus.txt'), '--vocab-size', '300', '--min-frequency', '3', '--special-tokens', '<|endoftext|>,<pad>', '--out', out, '--json', '-q'],
      { stdout: stdout.stream, stderr: stderr.stream },
    );
    assert.equal(rc, 0, stderr.text());
    const summary = JSON.parse(stdout.text());
    assert.deepEqual(summary.specialTokens, ['<|endoftext|>', '<pad>']);
    assert.ok(summary.vocabSize <= 300 && summary.vocabSize > 258);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(json.model.vocab['<pad>'], 1);
    const tok = new Tokenizer(json, JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
    const s = 'the cat sat on the log<|endoftext|>';
    assert.equal(tok.decode(tok.encode(s).ids), s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slm tokenizer rejects a missing or unknown subcommand and bad numbers', async () => {
  const err = capture();
  assert.equal(await main(['tokenizer', 'frobnicate', 'x'], { stdout: capture().stream, stderr: err.stream }), 2);
  assert.match(err.text(), /subcommand/);
  const err2 = capture();
  assert.equal(await main(['tokenizer', 'train', '.', '--vocab-size', 'lots'], { stdout: capture().stream, stderr: err2.stream }), 1);
  assert.match(err2.text(), /vocab-size/);
});
