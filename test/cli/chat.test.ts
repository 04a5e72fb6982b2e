// `slm chat` driven through stdin: piped (non-TTY) multi-turn conversations must equal the
// generation loop run in process on the template-rendered history, later turns must feed only
// their new tokens, and on a (simulated) terminal Ctrl-C stops a reply but not the program (at
// the prompt it asks nothing and quits nothing; Ctrl-D quits). /commands, --load/--save.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { generateText } from '../../src/generate/generate.ts';
import { loadServedModel, type LoadedModel } from '../../src/server/load-model.ts';
import type { ChatMessage } from '../../src/tokenizer/types.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';
import { runCli } from './helpers.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-chat-cache-'));
process.env.SLMKIT_CACHE = cacheDir;
const TEMPLATE = "{% for m in messages %}<|pad|>{{ m.role }}\n{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|pad|>assistant\n{% endif %}";
const GREEDY = ['--temperature', '0', '--max-tokens', '8', '--threads', '1'];

let templated: TinyModelFiles;
let plain: TinyModelFiles;

before(async () => {
  templated = await writeTinyModel('llama', 7);
  const cfg = join(templated.folder, 'tokenizer_config.json');
  writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), chat_template: TEMPLATE }));
  plain = await writeTinyModel('llama', 5);
});
after(() => {
  for (const f of [templated, plain]) rmSync(f.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

/** The replies a conversation should get: greedy generation on the re-rendered history. */
async function expectedReplies(m: LoadedModel, userTurns: (string | '/reset')[], system?: string): Promise<string[]> {
  const fresh = (): ChatMessage[] => (system ? [{ role: 'system', content: system }] : []);
  let history = fresh();
  const replies: string[] = [];
  for (const u of userTurns) {
    if (u === '/reset') {
      history = fresh();
      continue;
    }
    const turn = [...history, { role: 'user', content: u }];
    const r = await generateText(await m.createSession(), m.codec, m.encodeChat(turn), { temperature: 0, maxTokens: 8, stop: [...m.chatStop] });
    replies.push(r.text);
    history = [...turn, { role: 'assistant', content: r.text.trim() }];
  }
  return replies;
}

test('piped stdin: multi-turn replies equal in-process generation; later turns feed only new tokens; /reset', async () => {
  const m = await loadServedModel(templated.folder, { cacheDir, threads: 1 });
  const turns = ['Hello there', 'How are you?', '/reset', 'Hello there'];
  const want = await expectedReplies(m, turns, 'Be kind.');
  const promptLens = [
    m.encodeChat([{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello there' }]).length,
  ];
  await m.dispose();
  assert.ok(want[0]!.length > 0, 'the tiny model should say something');
  const r = await runCli(['chat', templated.folder, '--system', 'Be kind.', '--verbose', ...GREEDY], turns.join('\n') + '\n');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, want.map((t) => `${t.trimStart()}\n`).join(''));
  assert.match(r.err, /conversation cleared/);
  const fed = [...r.err.matchAll(/\[fed (\d+) of (\d+) prompt tokens/g)].map((x) => [Number(x[1]), Number(x[2])] as const);
  assert.equal(fed.length, 3, r.err);
  assert.deepEqual(fed[0], [promptLens[0], promptLens[0]]); // first turn: everything
  // Second turn: the first turn's prompt stays cached, only the reply and the new message are fed.
  assert.ok(fed[1]![0] <= fed[1]![1] - promptLens[0]!, `turn 2 fed ${fed[1]![0]} of ${fed[1]![1]}`);
  // After /reset the prompt equals turn 1's, which the cache still holds: one token to feed.
  assert.deepEqual(fed[2], [1, promptLens[0]]);
});

test('a model without a chat template uses the fallback format and stops at the next "User:"', async () => {
  const m = await loadServedModel(plain.folder, { cacheDir, threads: 1 });
  const want = await expectedReplies(m, ['hi', 'more']);
  await m.dispose();
  const r = await runCli(['chat', plain.folder, ...GREEDY], 'hi\nmore\n');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, want.map((t) => `${t.trimStart()}\n`).join(''));
  for (const t of want) assert.ok(!t.includes('\nUser:'));
});

test('terminal: Ctrl-C stops a reply and the chat goes on; Ctrl-C at an empty prompt does not quit, Ctrl-D does', async () => {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let stage = 0;
  // readline redraws the prompt as "\x1b[1G\x1b[0J> \x1b[3G" on a terminal.
  const atPrompt = (all: string) => /\n(\x1b\[\d*[GJ])*> (\x1b\[\d+G)?$/.test(all);
  const r = runCli(['chat', templated.folder, '--temperature', '1', '--seed', '3', '--max-tokens', '200', '--threads', '1'], '', {
    stdin,
    onStdout: (all) => {
      // After the typed line is echoed and the reply has begun, press Ctrl-C.
      if (stage === 0 && /story\r?\n[^>]+/.test(all)) {
        stage = 1;
        setImmediate(() => stdin.write('\x03'));
      } else if (stage === 1 && atPrompt(all)) {
        // Back at the prompt: the program is still running. Clear, then Ctrl-C to quit.
        stage = 2;
        setImmediate(() => stdin.write('/reset\r'));
      } else if (stage === 2 && /\/reset\r?\n/.test(all) && atPrompt(all)) {
        // Ctrl-C at the empty prompt: the chat must stay (a new prompt is drawn).
        stage = 3;
        setImmediate(() => stdin.write('\x03'));
      } else if (stage === 3 && /\/reset\r?\n[^]*\n(\x1b\[\d*[GJ])*> (\x1b\[\d+G)?$/.test(all)) {
        stage = 4;
        setImmediate(() => stdin.write('\x04'));
      }
    },
  });
  setImmediate(() => stdin.write('Tell me a story\r'));
  const done = await r;
  assert.equal(done.code, 0, done.err);
  assert.equal(stage, 4, `stopped at stage ${stage}: ${JSON.stringify(done.out)}`);
  assert.match(done.err, /Ctrl-D or \/bye quits\)/);
  assert.match(done.err, /reply stopped/);
  assert.match(done.err, /conversation cleared/);
});

test('unknown /commands are reported and not sent to the model; /bye quits; replies have no leading space', async () => {
  const m = await loadServedModel(plain.folder, { cacheDir, threads: 1 });
  const want = await expectedReplies(m, ['hi']);
  await m.dispose();
  const r = await runCli(['chat', plain.folder, ...GREEDY], 'hi\n/frobnicate now\n/bye\nnever sent\n');
  assert.equal(r.code, 0, r.err);
  // One reply only: /frobnicate produced none, and the line after /bye was never read.
  assert.equal(r.out, `${want[0]!.trimStart()}\n`);
  assert.ok(!/^\s/.test(r.out), `leading whitespace: ${JSON.stringify(r.out)}`);
  assert.match(r.err, /unknown command \/frobnicate/);
});

test('--system, --save and --load: a saved conversation continues as if it had never stopped', async () => {
  const file = join(plain.dir, 'conv.json');
  const m = await loadServedModel(plain.folder, { cacheDir, threads: 1 });
  const want = await expectedReplies(m, ['hi', 'more', 'again'], 'Be brief.');
  await m.dispose();
  const first = await runCli(['chat', plain.folder, '--system', 'Be brief.', '--save', file, ...GREEDY], 'hi\nmore\n');
  assert.equal(first.code, 0, first.err);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { messages: ChatMessage[] };
  assert.deepEqual(saved.messages.map((x) => x.role), ['system', 'user', 'assistant', 'user', 'assistant']);
  assert.equal(saved.messages[0]!.content, 'Be brief.');
  assert.equal(saved.messages[2]!.content, want[0]!.trim());
  const second = await runCli(['chat', plain.folder, '--load', file, ...GREEDY], 'again\n');
  assert.equal(second.code, 0, second.err);
  assert.equal(second.out, `${want[2]!.trimStart()}\n`);
  // A file that is not a conversation: a clear error naming the field.
  writeFileSync(file, JSON.stringify({ messages: [{ role: 'wizard', content: 'x' }] }));
  const bad = await runCli(['chat', plain.folder, '--load', file], '');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /messages\[0\]\.role.*system, user, assistant/);
});
