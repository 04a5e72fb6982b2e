// Image decoding: JPEG and PNG round trips (files made with jpeg-js / pngjs encoders here), and
// each bad input the issue lists: not an image, truncated, too many pixels (refused from the
// header, before decoding), WebP/GIF (refused by name), grey-scale PNG, EXIF rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, orient } from '../../src/vision/decode.ts';

function rgbaPattern(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) d.set([(i * 17) % 256, (i * 5) % 256, 200, 255], i * 4);
  return d;
}

test('PNG decodes exactly (alpha dropped); grey-scale PNG becomes R=G=B', () => {
  const png = PNG.sync.write({ width: 5, height: 3, data: rgbaPattern(5, 3) });
  const im = decodeImage(png);
  assert.equal(im.width, 5);
  assert.equal(im.height, 3);
  assert.deepEqual([...im.data.subarray(0, 6)], [0, 0, 200, 17, 5, 200]);
  const grey = PNG.sync.write({ width: 2, height: 1, data: new Uint8Array([10, 10, 10, 255, 90, 90, 90, 255]) }, { colorType: 0 });
  assert.deepEqual([...decodeImage(grey).data], [10, 10, 10, 90, 90, 90]);
});

test('JPEG decodes close to the source (lossy)', () => {
  const w = 16;
  const h = 8;
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([120, 60, 30, 255], i * 4);
  const jpg = encodeJpeg({ width: w, height: h, data }, 95).data;
  const im = decodeImage(jpg);
  assert.equal(im.width, w);
  assert.ok(Math.abs(im.data[0]! - 120) <= 3 && Math.abs(im.data[1]! - 60) <= 3 && Math.abs(im.data[2]! - 30) <= 3);
});

test('bad inputs: not an image, truncated, too large, WebP, GIF', () => {
  assert.throws(() => decodeImage(new TextEncoder().encode('hello, not an image')), /not an image/);
  const png = PNG.sync.write({ width: 5, height: 3, data: rgbaPattern(5, 3) });
  assert.throws(() => decodeImage(png.subarray(0, png.length - 30)), /cannot decode PNG|truncated/);
  assert.throws(() => decodeImage(png.subarray(0, 12)), /truncated/);
  // A 30000 × 30000 PNG header: refused from IHDR without decoding anything.
  const huge = Buffer.from(png);
  huge.writeUInt32BE(30000, 16);
  huge.writeUInt32BE(30000, 20);
  assert.throws(() => decodeImage(huge), /30000 × 30000 pixels is more than the limit/);
  assert.throws(() => decodeImage(png, { maxPixels: 10 }), /more than the limit of 10/);
  const webp = new Uint8Array([...new TextEncoder().encode('RIFF'), 0, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8 ')]);
  assert.throws(() => decodeImage(webp), /WEBP images are not supported/);
  assert.throws(() => decodeImage(new TextEncoder().encode('GIF89a......')), /GIF images are not supported/);
});

test('EXIF orientation: 6 rotates 90° clockwise, 3 rotates 180°, 8 rotates 270°', () => {
  // 2 × 1 image: A B  →  orientation 6 gives a 1 × 2 column A over B.
  const im = { width: 2, height: 1, data: new Uint8Array([1, 1, 1, 2, 2, 2]) };
  assert.deepEqual(orient(im, 6), { width: 1, height: 2, data: new Uint8Array([1, 1, 1, 2, 2, 2]) });
  assert.deepEqual(orient(im, 8), { width: 1, height: 2, data: new Uint8Array([2, 2, 2, 1, 1, 1]) });
  assert.deepEqual(orient(im, 3), { width: 2, height: 1, data: new Uint8Array([2, 2, 2, 1, 1, 1]) });
  // And end to end from a JPEG's APP1 Exif block.
  const w = 16;
  const h = 8;
  const data = new Uint8Array(w * h * 4).fill(255);
  const jpg = encodeJpeg({ width: w, height: h, data }, 90).data;
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
  const app1 = [0xff, 0xe1, 0, 2 + 6 + tiff.length, ...new TextEncoder().encode('Exif'), 0, 0, ...tiff];
  const rotated = new Uint8Array([...jpg.subarray(0, 2), ...app1, ...jpg.subarray(2)]);
  const r = decodeImage(rotated);
  assert.equal(r.width, h);
  assert.equal(r.height, w);
});
