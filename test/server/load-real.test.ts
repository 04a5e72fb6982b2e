// The bounded load test again, on a real (tiny, random-weight) Llama loaded from a Hugging
// Face folder and run by onnxruntime: 32 concurrent streaming clients, 8 of them dropping
// the connection midway; every completed stream must equal the text greedy generation gives
// for its own prompt (nothing lost, nothing mixed between requests), and memory must return
// to its baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createServer } from '../../src/server/index.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { generateText } from '../../src/generate/generate.ts';
import { writeTinyModel } from '../models/fixture-model.ts';

function getGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function heapAfterGc(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return gc ? process.memoryUsage().heapUsed : process.memoryUsage().rss;
}

test('real tiny model: 32 concurrent streaming clients, some disconnecting; none lost or mixed', async () => {
  const files = await writeTinyModel('llama', 11, 0.3);
  const model = await loadServedModel(files.folder, { threads: 1, cacheDir: mkdtempSync(join(tmpdir(), 'slmkit-load-')), maxSequences: 1 });
  const server = createServer({ model, maxConcurrency: 4, maxQueue: 64 });
  const { url } = await server.listen(0, '127.0.0.1');
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
  const gc = getGc();
  const MAX = 12;
  const promptOf = (i: number) => `the robot ${i % 8} counted`;
  // EOS is biased away so every stream runs to max_tokens (the same bias in both runs).
  const eos = model.codec.eosIds[0] ?? 0;
  const expected = new Map<string, string>();
  for (let i = 0; i < 8; i++) {
    const p = promptOf(i);
    const r = await generateText(model.lm.createSession(), model.codec, model.codec.encode(p), { temperature: 0, maxTokens: MAX, logitBias: { [eos]: -100 } });
    expected.set(p, r.text);
  }
  const round = async (n: number) => {
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const prompt = promptOf(i);
        const disconnect = i % 4 === 3;
        const ac = new AbortController();
        let text = '';
        let chunks = 0;
        try {
          const stream = await client.completions.create(
            { model: model.name, prompt, max_tokens: MAX, temperature: 0, stream: true, logit_bias: { [String(eos)]: -100 } },
            { signal: ac.signal },
          );
          for await (const c of stream) {
            text += c.choices[0]?.text ?? '';
            if (disconnect && ++chunks === 2) {
              ac.abort();
              return 'disconnected';
            }
          }
        } catch (e) {
          if (!disconnect) throw e;
          return 'disconnected';
        }
        assert.equal(text, expected.get(prompt), `round ${n} client ${i}: text differs from its own greedy generation`);
        return 'ok';
      }),
    );
    assert.equal(outcomes.filter((o) => o === 'ok').length, 24);
  };
  try {
    await round(0);
    const baseline = await heapAfterGc(gc);
    await round(1);
    await round(2);
    const growthMb = ((await heapAfterGc(gc)) - baseline) / 2 ** 20;
    assert.ok(growthMb < (gc ? 16 : 64), `${gc ? 'heap' : 'rss'} grew ${growthMb.toFixed(1)} MB`);
  } finally {
    await server.close();
    await model.dispose?.();
  }
});
