// LLaVA through the text machinery: LlavaDecoderSession (image placeholder ids) under the
// library's generate() = LlavaModel.generate's own loop; onnxruntime ≈ float64 interpreter on
// the spliced prefill; chunked prefill that splits an image = one run; and the server's
// OpenAI image content parts driven by the `openai` package (base64 PNG = the library's
// answer; the image encoded once over two turns; each bad input a 400 naming it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { PNG } from 'pngjs';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { loadLlava, phi2V0Prompt, type LlavaModel } from '../../src/models/llava-load.ts';
import { LlavaDecoderSession, phi2V0Segments, tokenizeSegments } from '../../src/models/llava-session.ts';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { loadLlavaServedModel, type LlavaServedModel } from '../../src/server/llava-served.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { decodeImage } from '../../src/vision/decode.ts';
import { imagePixels } from '../../src/vision/load-image.ts';
import { writeTinyLlava } from './llava-fixture.ts';
import { writeTinyModel } from './fixture-model.ts';

function png(w: number, h: number, seed = 1): Buffer {
  // pngjs returns a Buffer
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 40 * seed) % 256, (i * 7 + seed * 30) % 256, 90, 255], i * 4);
  return PNG.sync.write({ width: w, height: h, data }) as Buffer;
}
const dataUrl = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

let dir: string;
let lib: LlavaModel;
before(async () => {
  dir = (await writeTinyLlava('llava_phi')).dir;
  lib = await loadLlava(dir, { threads: 1 });
});
after(async () => {
  await lib.dispose();
});

test('phi-2_v0 segments: images first in their user turn, a typed "<image>" stays text', () => {
  const segs = phi2V0Segments([
    { role: 'system', content: 'S' },
    { role: 'user', content: ['What is it?', { image: 0 }] },
    { role: 'assistant', content: 'A cat.' },
    { role: 'user', content: 'And <image>?' },
  ]);
  assert.deepEqual(segs, ['S ', 'USER: ', { image: 0 }, '\n', 'What is it? ', 'ASSISTANT: A cat.<|endoftext|>', 'USER: ', 'And <image>? ', 'ASSISTANT:']);
  const tok = { encode: (s: string, o?: { addSpecialTokens?: boolean }) => [...(o?.addSpecialTokens ? '^' : ''), ...s].map((c) => c.charCodeAt(0)) };
  // Chunks tokenized apart, special tokens on the first only; the image's ids in between.
  assert.deepEqual(tokenizeSegments(tok, ['ab', { image: 0 }, 'c'], [[1000, 1001]]), [94, 97, 98, 1000, 1001, 99]);
  assert.throws(() => tokenizeSegments(tok, [{ image: 1 }], [[5]]), /image 1/);
  assert.throws(() => phi2V0Segments([{ role: 'assistant', content: [{ image: 0 }] }]), /user messages/);
});

test('LlavaDecoderSession under generate() = LlavaModel.generate; chunked prefill splitting an image = one run; interpreter ≈ onnxruntime', async () => {
  const img = png(10, 6);
  const px = await imagePixels(img, lib.imageSize, true);
  const want = await lib.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }]), [px], { maxTokens: 6 });
  const ids = tokenizeSegments(lib.tokenizer, phi2V0Segments([{ role: 'user', content: [{ image: 0 }, 'What colour?'] }]), [await lib.imageIds(px)]);
  assert.equal(ids.length, want.promptTokens);
  const session = new LlavaDecoderSession(lib);
  const r = await generate(session, codecFromTokenizer(lib.tokenizer, lib.eosIds), ids, { maxTokens: 6, temperature: 0 }).done();
  assert.deepEqual(r.tokens, want.ids);
  assert.equal(r.text, want.text);

  // Prefill in pieces that cut through the image's positions: same logits as one run.
  const at = ids.findIndex((t) => t >= lib.config.text.vocabSize) + 2;
  await session.truncate(0, 0);
  const one = (await session.forward([ids]))[0]![0]!;
  session.truncate(0, 0);
  await session.forward([ids.slice(0, at)]);
  const two = (await session.forward([ids.slice(at)]))[0]![0]!;
  assert.ok(maxDiff(one, two) < 1e-5, `chunked ${maxDiff(one, two)}`);
  assert.ok(maxDiff(one, want.firstLogits) < 1e-5);
  // Truncating into the image and feeding the rest again: the same logits.
  session.truncate(0, at - 1);
  const three = (await session.forward([ids.slice(at - 1)]))[0]![0]!;
  assert.ok(maxDiff(one, three) < 1e-5);

  // The float64 interpreter on the same spliced prompt (its own registry: its own ids).
  const ref = await loadLlava(dir, { backend: 'interpreter' });
  try {
    const refIds = tokenizeSegments(ref.tokenizer, phi2V0Segments([{ role: 'user', content: [{ image: 0 }, 'What colour?'] }]), [await ref.imageIds(px)]);
    const all = (await new LlavaDecoderSession(ref).forward([refIds], { allLogits: true }))[0]!;
    assert.equal(all.length, refIds.length);
    assert.ok(maxDiff(all.at(-1)!, one) < 1e-3, `interpreter vs onnxruntime ${maxDiff(all.at(-1)!, one)}`);
  } finally {
    await ref.dispose();
  }
  // A placeholder id of an image never registered is refused.
  await assert.rejects(session.forward([[lib.config.text.vocabSize + 10_000]], { seqs: [3] }), /no longer registered/);
});

test('server: OpenAI image_url parts (base64 PNG) = the library; one encode over two turns; bad images are 400s', async () => {
  const model: LlavaServedModel = await loadLlavaServedModel(dir, { threads: 1, name: 'llava' });
  const server: SlmServer = createServer({ model, limits: { maxImagesPerRequest: 2, maxImagePixels: 10_000, maxImageBytes: 200_000 } });
  const { url } = await server.listen(0, '127.0.0.1');
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
  try {
    const img = png(10, 6);
    const px = await imagePixels(img, lib.imageSize, true);
    const want = await lib.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }]), [px], { maxTokens: 5 });
    const messages = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'What colour?' }, { type: 'image_url' as const, image_url: { url: dataUrl(img) } }] }];
    const r = await client.chat.completions.create({ model: 'llava', messages, max_tokens: 5, temperature: 0 });
    assert.equal(r.choices[0]!.message.content, want.text);
    assert.equal(r.usage?.prompt_tokens, want.promptTokens);
    assert.equal(r.usage?.completion_tokens, want.ids.length);
    assert.equal(model.llava.cachedImages, 1);
    // Second turn about the same picture: streamed, with logprobs; the image is not encoded again.
    const stream = await client.chat.completions.create({
      model: 'llava', stream: true, logprobs: true, max_tokens: 3, temperature: 0,
      messages: [...messages, { role: 'assistant', content: r.choices[0]!.message.content ?? '' }, { role: 'user', content: 'Sure?' }],
    });
    let streamed = '';
    let entries = 0;
    for await (const c of stream) {
      streamed += c.choices[0]?.delta?.content ?? '';
      entries += c.choices[0]?.logprobs?.content?.length ?? 0;
    }
    const turn2 = await lib.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }, { role: 'assistant', content: want.text }, { role: 'user', content: 'Sure?' }]), [px], { maxTokens: 3 });
    assert.equal(streamed, turn2.text);
    assert.equal(entries, turn2.ids.length);
    assert.equal(model.llava.cachedImages, 1, 'same picture, one encode');

    const post = async (body: unknown) => {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, error: ((await res.json()) as { error: { message: string; code: string; param: string } }).error };
    };
    const withImage = (u: string) => ({ model: 'llava', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: u } }, { type: 'text', text: 'hi' }] }] });
    const cases: [string, string, RegExp][] = [
      ['https://example.com/cat.png', 'remote_images_disabled', /--allow-remote-images/],
      ['file:///etc/passwd', 'invalid_image_url', /data: URL/],
      ['data:image/png;base64,@@@@', 'invalid_image_url', /base64/],
      ['data:text/plain;base64,aGk=', 'invalid_image', /not an image/],
      [`data:image/png;base64,${Buffer.from('just text').toString('base64')}`, 'invalid_image', /not an image/],
      [dataUrl(png(10, 6).subarray(0, 40)), 'invalid_image', /truncated|cannot decode/],
      [dataUrl(png(200, 100)), 'invalid_image', /200 × 100 pixels is more than the limit of 10000/],
      [`data:image/png;base64,${'A'.repeat(300_000)}`, 'image_too_large', /at most 200000/],
    ];
    for (const [u, code, re] of cases) {
      const e = await post(withImage(u));
      assert.equal(e.status, 400, `${u.slice(0, 40)}: ${e.error.message}`);
      assert.equal(e.error.code, code, e.error.message);
      assert.match(e.error.message, re);
      assert.equal(e.error.param, 'messages[0].content[0].image_url.url');
    }
    const three = { type: 'image_url', image_url: { url: dataUrl(img) } };
    const many = await post({ model: 'llava', messages: [{ role: 'user', content: [three, three, three] }] });
    assert.equal(many.status, 400);
    assert.equal(many.error.code, 'too_many_images');
  } finally {
    await server.close();
    await model.dispose();
  }
});

test('server: remote image URLs only when allowed, then fetched with a byte cap; text-only models refuse image parts', async () => {
  const img = png(10, 6, 3);
  const big = png(120, 120, 2);
  const http = createHttpServer((req, res) => {
    const body = req.url === '/big.png' ? big : img;
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const model = await loadLlavaServedModel(dir, { threads: 1, name: 'llava' });
  const server = createServer({ model, limits: { allowRemoteImages: true, maxImageBytes: big.length - 1 } });
  const { url } = await server.listen(0, '127.0.0.1');
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
  const tiny = await writeTinyModel('llama');
  const text = await loadServedModel(tiny.folder, { threads: 1, name: 'text' });
  const textServer = createServer({ model: text });
  const textUrl = (await textServer.listen(0, '127.0.0.1')).url;
  try {
    const ask = (u: string) => client.chat.completions.create({ model: 'llava', max_tokens: 3, temperature: 0, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: u } }, { type: 'text', text: 'Shapes?' }] }] });
    const remote = await ask(`${base}/pic.png`);
    const local = await ask(dataUrl(img));
    assert.equal(remote.choices[0]!.message.content, local.choices[0]!.message.content);
    assert.equal(model.llava.cachedImages, 1, 'the same bytes by URL and by data: URL are one image');
    await assert.rejects(ask(`${base}/big.png`), (e: { status?: number; message?: string }) => e.status === 400 && /bytes/.test(e.message ?? ''));
    // decodeImage agrees with the fetched bytes (sanity on the fixture).
    assert.equal(decodeImage(img).width, 10);

    const textClient = new OpenAI({ baseURL: `${textUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    await assert.rejects(
      textClient.chat.completions.create({ model: 'text', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl(img) } }] }] }),
      (e: { status?: number; message?: string }) => e.status === 400 && /text-only/.test(e.message ?? ''),
    );
  } finally {
    await server.close();
    await model.dispose();
    await textServer.close();
    await text.dispose();
    http.close();
  }
});
