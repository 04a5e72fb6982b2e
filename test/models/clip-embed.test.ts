// `slm embed <clip> --image`: a tiny random CLIPVisionModelWithProjection folder written by
// slmkit's own writer, with a preprocessor_config.json of its own (shortest side 10, crop 8,
// its mean/std); the CLI's vectors (onnxruntime) = the float64 interpreter's through the library
// on the same files; --normalize gives unit vectors; a corrupt image is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { Graph } from '../../src/ir/graph.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { EMPTY, randomWeights } from '../../src/nn/init-store.ts';
import { buildClipVisionGraph, parseClipVisionConfig } from '../../src/models/clip.ts';
import { ClipImageEncoder, clipVisionArch, parseClipPreprocessor } from '../../src/models/clip-load.ts';
import { writeHfModelFolder } from '../../src/train/hf-output.ts';
import { runCli } from '../cli/helpers.ts';
import { TINY_CLIP } from './llava-fixture.ts';

test('parseClipPreprocessor: HF size/crop forms, defaults, bad values refused', () => {
  assert.deepEqual(parseClipPreprocessor({ size: { shortest_edge: 10 }, crop_size: { height: 8, width: 8 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.25, 0.25] }, 8), { size: 10, crop: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], pad: false });
  assert.equal(parseClipPreprocessor(undefined, 8).size, 8);
  assert.throws(() => parseClipPreprocessor({ crop_size: 9 }, 8), /crop_size 9/);
  assert.throws(() => parseClipPreprocessor({ image_std: [1, 0, 1] }, 8), /image_std/);
});

test('slm embed --image on a tiny CLIPVisionModelWithProjection = the interpreter through the library', async () => {
  const config = parseClipVisionConfig({ ...TINY_CLIP, projection_dim: 6 });
  const vb = new VarBuilder(new Graph('list'), EMPTY, { dtype: 'float32', linear: 'float32' });
  buildClipVisionGraph(vb, config);
  const store = randomWeights(vb.usage.requested, 9, 0.3);
  const dir = join(mkdtempSync(join(tmpdir(), 'slmkit-clip-')), 'clip');
  await writeHfModelFolder(dir, { arch: clipVisionArch, config, weights: [...store.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })) });
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ size: { shortest_edge: 10 }, crop_size: { height: 8, width: 8 }, image_mean: [0.5, 0.4, 0.3], image_std: [0.2, 0.25, 0.3] }));
  const files = [0, 1].map((k) => {
    const f = join(dir, `im${k}.png`);
    const data = new Uint8Array(13 * 9 * 4);
    for (let i = 0; i < 13 * 9; i++) data.set([(i * 31 + k * 90) % 256, (i * 5) % 256, (255 - i * 3 * (k + 1)) & 255, 255], i * 4);
    writeFileSync(f, PNG.sync.write({ width: 13, height: 9, data }));
    return f;
  });
  const ref = await ClipImageEncoder.load(dir, { backend: 'interpreter' });
  const want = await ref.embed(files);
  assert.equal(ref.dimension, 6);
  await ref.dispose();

  const r = await runCli(['embed', dir, '--image', files[0]!, '--image', files[1]!, '--json', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  const got = r.out.trim().split('\n').map((l) => JSON.parse(l) as number[]);
  assert.equal(got.length, 2);
  for (let k = 0; k < 2; k++) {
    assert.equal(got[k]!.length, 6);
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(got[k]![i]! - want[k]![i]!) < 1e-4, `image ${k} dim ${i}: ${got[k]![i]} vs ${want[k]![i]}`);
  }
  assert.ok(Math.abs(got[0]![0]! - got[1]![0]!) > 1e-4, 'different images, different vectors');
  const unit = await runCli(['embed', dir, '--image', files[0]!, '--json', '--normalize', '--threads', '1']);
  const u = JSON.parse(unit.out) as number[];
  assert.ok(Math.abs(Math.hypot(...u) - 1) < 1e-5);

  const bad = join(dir, 'bad.png');
  writeFileSync(bad, PNG.sync.write({ width: 4, height: 4, data: new Uint8Array(64) }).subarray(0, 30));
  const e = await runCli(['embed', dir, '--image', bad, '--threads', '1']);
  assert.notEqual(e.code, 0);
  assert.match(e.err, /truncated|cannot decode/);
});
