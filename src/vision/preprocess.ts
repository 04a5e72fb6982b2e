// CLIP / LLaVA image preprocessing, as the reference pipeline does it on 8-bit images:
//
//   1. image_aspect_ratio 'pad' (llava mm_utils.expand2square): pad to a square with the
//      background int(mean·255) = (122, 116, 104) for OpenAI CLIP, image centred (offset
//      (long − short) // 2).
//   2. CLIPImageProcessor resize: shortest side → size, other side int(size · long / short),
//      PIL bicubic (Resample.c: a = −0.5 kernel widened by the downscale factor, coefficients
//      in 22-bit fixed point, horizontal pass then vertical, each rounded and clipped to
//      8 bits) — reproduced here in integer arithmetic so pixels equal PIL's.
//   3. centre crop (top = (h − crop) // 2, left = (w − crop) // 2).
//   4. ×1/255, (x − mean) / std per channel, channel-first float32 [3, S, S].

import type { RgbImage } from './decode.ts';
import { SlmError } from '../errors.ts';

export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export interface ClipPreprocessConfig {
  /** Shortest side after resize (preprocessor_config size.shortest_edge). */
  size: number;
  /** Centre crop side (crop_size). */
  crop: number;
  mean: readonly number[];
  std: readonly number[];
  /** LLaVA's image_aspect_ratio: 'pad' to a square with the mean colour first. */
  pad: boolean;
}

export function clipPreprocessConfig(imageSize: number, pad: boolean): ClipPreprocessConfig {
  return { size: imageSize, crop: imageSize, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD, pad };
}

/** expand2square with background (int(m0·255), int(m1·255), int(m2·255)). */
export function padToSquare(im: RgbImage, mean: readonly number[]): RgbImage {
  const { width: w, height: h } = im;
  if (w === h) return im;
  const s = Math.max(w, h);
  const bg = mean.map((m) => Math.trunc(m * 255));
  const out = new Uint8Array(s * s * 3);
  for (let i = 0; i < s * s; i++) out.set(bg, i * 3);
  const ox = w < h ? Math.floor((h - w) / 2) : 0;
  const oy = h < w ? Math.floor((w - h) / 2) : 0;
  for (let y = 0; y < h; y++) out.set(im.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + oy) * s + ox) * 3);
  return { width: s, height: s, data: out };
}

const PRECISION_BITS = 32 - 8 - 2;

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** PIL precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function coefficients(inSize: number, outSize: number): { bounds: Int32Array; k: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const tmp = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) ww += tmp[x] = bicubic((x + xmin - center + 0.5) * ss);
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? tmp[x]! / ww : tmp[x]!;
      k[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, k, ksize };
}

const clip8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : v);

/** One pass along x (horizontal) or y, as PIL ImagingResampleHorizontal/Vertical_8bpc. */
function pass(im: RgbImage, outW: number, outH: number, horizontal: boolean): RgbImage {
  const { width: w, height: h, data } = im;
  const { bounds, k, ksize } = coefficients(horizontal ? w : h, horizontal ? outW : outH);
  const out = new Uint8Array(outW * outH * 3);
  // Products reach 2^8 · 2^22 · ksize: beyond int32, exact in float64 (< 2^53), so no overflow.
  const half = 2 ** (PRECISION_BITS - 1);
  const unit = 2 ** PRECISION_BITS;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = horizontal ? x : y;
      const min = bounds[o * 2]!;
      const n = bounds[o * 2 + 1]!;
      for (let c = 0; c < 3; c++) {
        let ss = half;
        for (let t = 0; t < n; t++) {
          const src = horizontal ? (y * w + min + t) * 3 + c : ((min + t) * w + x) * 3 + c;
          ss += data[src]! * k[o * ksize + t]!;
        }
        out[(y * outW + x) * 3 + c] = clip8(Math.floor(ss / unit));
      }
    }
  }
  return { width: outW, height: outH, data: out };
}

/** PIL Image.resize((w, h), BICUBIC) on an 8-bit RGB image. */
export function resizeBicubic(im: RgbImage, outW: number, outH: number): RgbImage {
  let r = im;
  if (outW !== r.width) r = pass(r, outW, r.height, true);
  if (outH !== r.height) r = pass(r, outW, outH, false);
  return r;
}

/** transformers get_resize_output_image_size(default_to_square=False): shortest side → size. */
export function shortestSideSize(w: number, h: number, size: number): { width: number; height: number } {
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? { width: size, height: newLong } : { width: newLong, height: size };
}

export function centerCrop(im: RgbImage, crop: number): RgbImage {
  const { width: w, height: h } = im;
  if (w < crop || h < crop) throw new SlmError('INVALID_ARGUMENT', `centre crop ${crop} is larger than the ${w} × ${h} image`);
  const top = Math.trunc((h - crop) / 2);
  const left = Math.trunc((w - crop) / 2);
  const out = new Uint8Array(crop * crop * 3);
  for (let y = 0; y < crop; y++) out.set(im.data.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + crop) * 3), y * crop * 3);
  return { width: crop, height: crop, data: out };
}

/** ×1/255 then (x − mean) / std, to channel-first float32 [3, h, w] (float32 as numpy does). */
export function normalize(im: RgbImage, mean: readonly number[], std: readonly number[]): Float32Array {
  const n = im.width * im.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    for (let i = 0; i < n; i++) out[c * n + i] = Math.fround(Math.fround(Math.fround(im.data[i * 3 + c]! * (1 / 255)) - m) / s);
  }
  return out;
}

/** The whole pipeline: RGB image → pixel_values [3, crop, crop]. */
export function preprocessClip(im: RgbImage, c: ClipPreprocessConfig): { data: Float32Array; size: number } {
  let r = c.pad ? padToSquare(im, c.mean) : im;
  const t = shortestSideSize(r.width, r.height, c.size);
  r = resizeBicubic(r, t.width, t.height);
  r = centerCrop(r, c.crop);
  return { data: normalize(r, c.mean, c.std), size: c.crop };
}
