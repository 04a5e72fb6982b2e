// CLIP/LLaVA preprocessing: PIL bicubic resize reproduced exactly (reference values produced
// once with Pillow 9.4 `Image.resize(size, Image.BICUBIC)` on the pattern below and committed
// here), and hand-computed padding colour, crop box and normalisation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { centerCrop, normalize, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, padToSquare, preprocessClip, resizeBicubic, shortestSideSize } from '../../src/vision/preprocess.ts';
import type { RgbImage } from '../../src/vision/decode.ts';

function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 37 + y * 11) % 256, (x * x * 13 + y * 71) % 256, (((255 - x * 29 - y * 3) % 256) + 256) % 256], (y * w + x) * 3);
  return { width: w, height: h, data };
}

const PIL: [number, number, number, number, number[]][] = [
  [7, 5, 4, 3, [19, 28, 242, 81, 97, 194, 149, 132, 140, 211, 117, 92, 37, 161, 237, 99, 119, 189, 167, 88, 135, 234, 121, 87, 55, 114, 232, 117, 77, 184, 191, 154, 130, 165, 150, 82]],
  [3, 2, 7, 5, [0, 0, 255, 2, 0, 253, 17, 0, 241, 36, 6, 226, 55, 24, 211, 70, 41, 199, 77, 49, 194, 0, 5, 255, 4, 6, 253, 19, 10, 241, 38, 18, 226, 57, 36, 211, 72, 53, 199, 79, 61, 194, 4, 35, 255, 9, 37, 252, 24, 41, 240, 43, 49, 225, 62, 67, 210, 77, 84, 198, 84, 92, 193, 7, 65, 255, 13, 67, 250, 28, 71, 238, 47, 79, 223, 66, 97, 208, 81, 114, 196, 88, 122, 191, 8, 77, 255, 15, 79, 250, 30, 83, 238, 49, 91, 223, 68, 109, 208, 83, 126, 196, 90, 134, 191]],
  [13, 9, 6, 4, [30, 69, 235, 107, 114, 174, 197, 116, 110, 75, 125, 47, 87, 87, 196, 172, 109, 186, 54, 140, 229, 133, 96, 168, 205, 130, 104, 82, 105, 41, 113, 158, 190, 197, 152, 180, 80, 125, 221, 165, 140, 160, 174, 145, 97, 55, 149, 31, 145, 130, 181, 219, 149, 173, 104, 159, 215, 190, 109, 154, 102, 111, 86, 78, 116, 59, 175, 77, 197, 154, 99, 163]],
];

test('bicubic resize equals Pillow byte for byte (down, up, both axes)', () => {
  for (const [w, h, ow, oh, want] of PIL) assert.deepEqual([...resizeBicubic(pattern(w, h), ow, oh).data], want, `${w}x${h} -> ${ow}x${oh}`);
});

test('pad to square: background int(mean·255) = (122,116,104), image centred', () => {
  const im = { width: 3, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
  const sq = padToSquare(im, OPENAI_CLIP_MEAN);
  assert.equal(sq.width, 3);
  assert.deepEqual([...sq.data], [122, 116, 104, 122, 116, 104, 122, 116, 104, 1, 2, 3, 4, 5, 6, 7, 8, 9, 122, 116, 104, 122, 116, 104, 122, 116, 104]);
  const tall = padToSquare({ width: 1, height: 4, data: new Uint8Array(12).fill(9) }, OPENAI_CLIP_MEAN);
  // (4 - 1) // 2 = 1 column on the left, 2 on the right
  assert.deepEqual([...tall.data.subarray(0, 12)], [122, 116, 104, 9, 9, 9, 122, 116, 104, 122, 116, 104]);
});

test('shortest side and centre crop box as transformers computes them', () => {
  assert.deepEqual(shortestSideSize(640, 480, 336), { width: 448, height: 336 });
  assert.deepEqual(shortestSideSize(333, 500, 336), { width: 336, height: 504 }); // int(336·500/333) = 504
  const im = pattern(5, 4);
  const c = centerCrop(im, 2); // top (4-2)//2 = 1, left (5-2)//2 = 1
  assert.deepEqual([...c.data], [...im.data.subarray((1 * 5 + 1) * 3, (1 * 5 + 3) * 3), ...im.data.subarray((2 * 5 + 1) * 3, (2 * 5 + 3) * 3)]);
});

test('normalisation: (v/255 − mean)/std per channel, channel-first', () => {
  const px = normalize({ width: 2, height: 1, data: new Uint8Array([0, 128, 255, 255, 0, 122]) }, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD);
  const want = [0 - 0.48145466, 1 - 0.48145466].map((v) => v / 0.26862954)
    .concat([128 / 255 - 0.4578275, 0 - 0.4578275].map((v) => v / 0.26130258))
    .concat([1 - 0.40821073, 122 / 255 - 0.40821073].map((v) => v / 0.27577711));
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(px[i]! - want[i]!) < 1e-6, `${i}: ${px[i]} vs ${want[i]}`);
});

test('full pipeline: pad + resize + crop gives [3, S, S]; a uniform background stays uniform', () => {
  const im = { width: 6, height: 2, data: new Uint8Array(36) };
  for (let i = 0; i < 12; i++) im.data.set([122, 116, 104], i * 3);
  const { data, size } = preprocessClip(im, { size: 4, crop: 4, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD, pad: true });
  assert.equal(size, 4);
  assert.equal(data.length, 48);
  // Image and padding both the background: every value is int(mean·255)/255 − mean over std.
  for (let c = 0; c < 3; c++) for (let i = 0; i < 16; i++) assert.ok(Math.abs(data[c * 16 + i]! - (Math.trunc(OPENAI_CLIP_MEAN[c]! * 255) / 255 - OPENAI_CLIP_MEAN[c]!) / OPENAI_CLIP_STD[c]!) < 1e-6);
});
