// Image files → RGB pixels (8 bits, row-major, 3 channels), with pure-JS decoders (jpeg-js,
// pngjs): no native binary, so `npm install` works offline and in any sandbox. WebP and GIF are
// refused with a clear error (no maintained pure-JS decoder ships here; convert to PNG/JPEG).
//
// As LLaVA's Image.open(f).convert('RGB'): alpha is dropped (not composited), grey becomes
// R=G=B, CMYK JPEGs are converted by jpeg-js. The EXIF orientation of a JPEG is honoured (PIL's
// ImageOps.exif_transpose; note LLaVA itself does not call it: a rotated phone photo reaches
// the reference model sideways). The pixel count is checked from the header before decoding.

import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { SlmError } from '../errors.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** width · height · 3 bytes, RGB. */
  data: Uint8Array;
}

/** Default refusal threshold: 50 megapixels (PIL warns at 89 MP and refuses at 179 MP). */
export const MAX_IMAGE_PIXELS = 50_000_000;

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

export function sniffImage(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && ascii(b, 0, 3) === 'GIF') return 'gif';
  return undefined;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...b.subarray(from, to));
}

/** Width and height from a PNG IHDR or a JPEG SOFn marker, without decoding. */
export function imageSize(b: Uint8Array, format: ImageFormat): { width: number; height: number; orientation: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (format === 'png') return b.length >= 24 ? { width: dv.getUint32(16), height: dv.getUint32(20), orientation: 1 } : undefined;
  if (format !== 'jpeg') return undefined;
  let orientation = 1;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    const len = dv.getUint16(i + 2);
    if (marker === 0xe1 && ascii(b, i + 4, i + 8) === 'Exif') orientation = exifOrientation(b, i + 10, i + 2 + len) ?? 1;
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > b.length) return undefined;
      return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7), orientation };
    }
    i += 2 + len;
  }
  return undefined;
}

/** Tag 0x0112 of IFD0 in the TIFF block at [start, end). */
function exifOrientation(b: Uint8Array, start: number, end: number): number | undefined {
  if (end > b.length || start + 8 > end) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset + start, end - start);
  const le = dv.getUint16(0) === 0x4949;
  const ifd = dv.getUint32(4, le);
  if (ifd + 2 > dv.byteLength) return undefined;
  const n = dv.getUint16(ifd, le);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    if (e + 12 > dv.byteLength) return undefined;
    if (dv.getUint16(e, le) === 0x0112) {
      const v = dv.getUint16(e + 8, le);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return undefined;
}

/** Decodes JPEG or PNG bytes to RGB; refuses other formats, truncated files and images over maxPixels. */
export function decodeImage(bytes: Uint8Array, opts: { maxPixels?: number; name?: string } = {}): RgbImage {
  const name = opts.name ?? 'image';
  const format = sniffImage(bytes);
  if (!format) throw new SlmError('INVALID_ARGUMENT', `${name}: not an image (supported: JPEG, PNG)`);
  if (format === 'webp' || format === 'gif') throw new SlmError('UNSUPPORTED', `${name}: ${format.toUpperCase()} images are not supported (supported: JPEG, PNG); convert it first`);
  const size = imageSize(bytes, format);
  if (!size) throw new SlmError('INVALID_ARGUMENT', `${name}: truncated or corrupt ${format.toUpperCase()} header`);
  const max = opts.maxPixels ?? MAX_IMAGE_PIXELS;
  if (size.width * size.height > max) throw new SlmError('INVALID_ARGUMENT', `${name}: ${size.width} × ${size.height} pixels is more than the limit of ${max} pixels`);
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    rgba = format === 'png'
      ? PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      : decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: Math.ceil(max / 1e6), maxMemoryUsageInMB: 2048 });
  } catch (e) {
    throw new SlmError('INVALID_ARGUMENT', `${name}: cannot decode ${format.toUpperCase()}: ${(e as Error).message}`, { cause: e });
  }
  const { width: w, height: h } = rgba;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < w * h; i++, j += 4) {
    rgb[i * 3] = rgba.data[j]!;
    rgb[i * 3 + 1] = rgba.data[j + 1]!;
    rgb[i * 3 + 2] = rgba.data[j + 2]!;
  }
  return orient({ width: w, height: h, data: rgb }, size.orientation);
}

/** Applies an EXIF orientation (1..8) as PIL's exif_transpose does. */
export function orient(im: RgbImage, orientation: number): RgbImage {
  if (orientation <= 1 || orientation > 8) return im;
  const { width: w, height: h } = im;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Source pixel of output (x, y) for each orientation.
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break; // mirror horizontal
        case 3: sx = w - 1 - x; sy = h - 1 - y; break; // rotate 180
        case 4: sx = x; sy = h - 1 - y; break; // mirror vertical
        case 5: sx = y; sy = x; break; // transpose
        case 6: sx = y; sy = h - 1 - x; break; // rotate 90 CW
        case 7: sx = w - 1 - y; sy = h - 1 - x; break; // transverse
        default: sx = w - 1 - y; sy = x; break; // 8: rotate 270 CW
      }
      const s = (sy * w + sx) * 3;
      const d = (y * W + x) * 3;
      out[d] = im.data[s]!;
      out[d + 1] = im.data[s + 1]!;
      out[d + 2] = im.data[s + 2]!;
    }
  }
  return { width: W, height: H, data: out };
}
