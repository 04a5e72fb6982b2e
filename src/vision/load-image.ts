// An image argument (file path, bytes, or decoded RGB) → CLIP pixel values for a model.
import { readFile, stat } from 'node:fs/promises';
import { decodeImage, type RgbImage } from './decode.ts';
import { clipPreprocessConfig, preprocessClip } from './preprocess.ts';
import { SlmError } from '../errors.ts';

/** Largest image file read (bytes): 32 MiB. */
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024;

export type ImageInput = string | Uint8Array | RgbImage;

export async function readImageInput(input: ImageInput, opts: { maxPixels?: number; maxBytes?: number } = {}): Promise<RgbImage> {
  if (typeof input === 'string') {
    const st = await stat(input).catch(() => undefined);
    if (!st?.isFile()) throw new SlmError('NOT_FOUND', `no such image file: ${input}`);
    const max = opts.maxBytes ?? MAX_IMAGE_BYTES;
    if (st.size > max) throw new SlmError('INVALID_ARGUMENT', `${input}: ${st.size} bytes is more than the limit of ${max}`);
    return decodeImage(await readFile(input), { maxPixels: opts.maxPixels, name: input });
  }
  if (input instanceof Uint8Array) return decodeImage(input, { maxPixels: opts.maxPixels });
  if (input.data.length !== input.width * input.height * 3) throw new SlmError('INVALID_ARGUMENT', `decoded image: ${input.data.length} bytes for ${input.width} × ${input.height} RGB`);
  return input;
}

/** Pixel values [3, S, S] for a model whose tower takes `imageSize` pixels ('pad' aspect ratio as LLaVA-Phi). */
export async function imagePixels(input: ImageInput, imageSize: number, pad: boolean, opts: { maxPixels?: number; maxBytes?: number } = {}): Promise<{ data: Float32Array; size: number }> {
  return preprocessClip(await readImageInput(input, opts), clipPreprocessConfig(imageSize, pad));
}
