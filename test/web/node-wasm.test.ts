// The web entry run under Node on onnxruntime-web's WASM backend gives the same greedy tokens
// as the Node build on onnxruntime-node, for a tiny random llama read from buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { filesModelSource, loadCausalLMWeb, SlmError } from '../../src/web/index.ts';

const PROMPT = 'Once upon a time the robot';

test('web entry on onnxruntime-web (wasm, Node) = onnxruntime-node, token for token', async () => {
  const m = await writeTinyModel('llama', 11, 0.3);
  try {
    const node = await loadCausalLM(m.folder, { cacheDir: false, threads: 1 });
    const codec = codecFromTokenizer(node.tokenizer, node.eosIds);
    const ids = encodePrompt(codec, PROMPT);
    const opts = { maxTokens: 12, temperature: 0, stopTokenIds: [] as number[] };
    const want = await generate(node.createSession(), codec, ids, opts).done();
    await node.dispose();

    const files: Record<string, Uint8Array> = {};
    for (const f of await readdir(m.folder)) files[f] = new Uint8Array(await readFile(join(m.folder, f)));
    const web = await loadCausalLMWeb(filesModelSource(files, 'tiny/'), { threads: 1 });
    assert.equal(web.modelType, 'llama');
    assert.deepEqual(web.tokenizer.encode(PROMPT, { addSpecialTokens: true }), ids);
    const steps: number[] = [];
    const gen = web.generate(PROMPT, opts);
    for await (const s of gen) steps.push(s.token);
    const got = await gen.done();
    assert.equal(got.tokens.length, 12);
    assert.deepEqual(got.tokens, want.tokens);
    assert.deepEqual(steps, want.tokens);
    assert.equal(got.text, want.text);

    // Abort stops a reply.
    const ac = new AbortController();
    const g2 = web.generate(PROMPT, { ...opts, maxTokens: 50, signal: ac.signal });
    let n = 0;
    for await (const _ of g2) if (++n === 3) ac.abort();
    assert.equal((await g2.done()).finishReason, 'abort');
    await web.dispose();

    // The concat KV layout gives the same tokens.
    const webConcat = await loadCausalLMWeb(filesModelSource(files, 'tiny/'), { kvMode: 'concat' });
    assert.deepEqual((await webConcat.generate(PROMPT, opts).done()).tokens, want.tokens);
    await webConcat.dispose();
  } finally {
    await rm(m.dir, { recursive: true, force: true });
  }
});

test('web loader: missing files and non-model files give clear errors', async () => {
  await assert.rejects(loadCausalLMWeb(filesModelSource({}, 'empty/')), (e: unknown) => e instanceof SlmError && /no config\.json/.test(e.message));
  await assert.rejects(
    loadCausalLMWeb(filesModelSource({ 'config.json': new TextEncoder().encode('not json') }, 'bad/')),
    (e: unknown) => e instanceof SlmError && /not valid JSON/.test(e.message),
  );
  const big = { model_type: 'llama', vocab_size: 32000, hidden_size: 8192, intermediate_size: 28672, num_hidden_layers: 80, num_attention_heads: 64, num_key_value_heads: 8, max_position_embeddings: 4096 };
  await assert.rejects(
    loadCausalLMWeb(filesModelSource({ 'config.json': new TextEncoder().encode(JSON.stringify(big)) }, 'big/'), { dtype: 'f32' }),
    (e: unknown) => e instanceof SlmError && e.code === 'OUT_OF_MEMORY' && /4 GiB/.test(e.message) && /GiB/.test(e.message),
  );
});
