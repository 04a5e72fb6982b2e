// Issue 18 #1-#2 end to end: `slm serve`'s model (loadServedModel) renders chat templates and
// long texts on its tokenizer worker; a looping template is a 400 while /health stays quick, and
// ordinary prompts give the same ids as the in-thread tokenizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from '../../src/server/index.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { healthLatency } from './helpers.ts';

const TEMPLATE =
  "{% if messages[0].content == 'raise' %}{{ raise_exception('roles must alternate') }}{% endif %}" +
  "{% if messages[0].content == 'loop' %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{% endif %}" +
  '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}';

test('loadServedModel: chat templates and long texts run on the worker; a loop is a 400 while /health answers', async () => {
  const files = await writeTinyModel('llama');
  const cfgPath = join(files.folder, 'tokenizer_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), chat_template: TEMPLATE }));
  const model = await loadServedModel(files.folder, { backend: 'interpreter', ctx: 128 });
  const server = createServer({ model });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    const messages = [{ role: 'user', content: 'Hello there' }];
    assert.deepEqual(await model.encodeChatAsync(messages), model.encodeChat(messages));
    const long = 'The moon laughed. '.repeat(400);
    assert.deepEqual(await model.encodeAsync(long, { addSpecialTokens: true }), model.codec.encode(long, { addSpecialTokens: true }));
    assert.ok(model.maxTokenChars >= 2);

    const chat = (content: string) =>
      fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: model.name, messages: [{ role: 'user', content }], max_tokens: 2, temperature: 0 }) });
    const ok = await chat('Hello there');
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens, model.encodeChat(messages).length);

    const raised = await chat('raise');
    assert.equal(raised.status, 400);
    assert.match(((await raised.json()) as { error: { message: string } }).error.message, /roles must alternate/);

    let worst = 0;
    let done = false;
    const poll = (async () => {
      while (!done) {
        worst = Math.max(worst, await healthLatency(url));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const bad = await chat('loop');
    done = true;
    await poll;
    const body = (await bad.json()) as { error: { message: string; code: string } };
    assert.equal(bad.status, 400);
    assert.equal(body.error.code, 'limit_exceeded');
    assert.ok(worst < 1000, `/health took ${worst.toFixed(0)} ms`);
  } finally {
    await server.close();
    await model.dispose();
    rmSync(files.dir, { recursive: true, force: true });
  }
});
