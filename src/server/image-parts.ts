// OpenAI image content parts in /v1/chat/completions:
//   {"type": "image_url", "image_url": {"url": "data:image/png;base64,...", "detail": "auto"}}
//
// Images are untrusted input. Each request may carry at most limits.maxImagesPerRequest images
// of at most limits.maxImageBytes bytes and limits.maxImagePixels pixels (checked from the
// header, before decoding); the JSON body limit bounds them first. Only data: URLs are read
// unless the server allows remote images (limits.allowRemoteImages, `slm serve
// --allow-remote-images`): http(s) URLs are then fetched with a time limit and a byte cap.
// A model without vision (no ServedModel.vision) answers any image part with a 400 saying so.
// `detail` is accepted and ignored: LLaVA sees every image at its tower's one resolution.
import { z } from 'zod';
import { decodeImage, type RgbImage } from '../vision/decode.ts';
import { SlmError } from '../errors.ts';
import { ApiError, badRequest } from './api-error.ts';
import type { ServerContext } from './context.ts';
import { DEFAULT_SERVER_LIMITS } from './limits.ts';
import { maxPromptChars, tokenizationError } from './text-bounds.ts';
import type { RequestMessage } from './tool-schemas.ts';

export const imagePart = z.strictObject({
  type: z.literal('image_url'),
  image_url: z.strictObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
export type ImagePart = z.infer<typeof imagePart>;

/** A message piece for a vision model: text, or the index of an image in the request's list. */
export type VisionSegment = string | { image: number };
export interface VisionMessage {
  role: string;
  content: string | readonly VisionSegment[];
}

/** What a vision-language ServedModel adds: chat prompt ids with the images spliced in. */
export interface VisionChat {
  encodeChat(messages: readonly VisionMessage[], images: readonly RgbImage[], signal?: AbortSignal): Promise<number[]>;
}

type Part = { type: string; text?: string; image_url?: { url: string } };

function partsOf(m: RequestMessage): readonly Part[] {
  return Array.isArray(m.content) ? (m.content as Part[]) : [];
}

export function hasImageParts(messages: readonly RequestMessage[]): boolean {
  return messages.some((m) => partsOf(m).some((p) => p.type === 'image_url'));
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes of a data: URL (base64 only), size-checked before decoding the base64. */
function dataUrlBytes(url: string, maxBytes: number, param: string): Uint8Array {
  const comma = url.indexOf(',');
  const head = comma < 0 ? url : url.slice(0, comma);
  const m = /^data:([^;,]*)((?:;[^;,]*)*)$/i.exec(head);
  if (!m || comma < 0) throw badRequest('The image data: URL is malformed (expected data:image/png;base64,...).', param, 'invalid_image_url');
  if (!/;base64$/i.test(m[2]!)) throw badRequest('Only base64 data: URLs are accepted for images (data:image/...;base64,...).', param, 'invalid_image_url');
  if (m[1] && !/^image\//i.test(m[1])) throw badRequest(`The data: URL has media type ${m[1]}, not an image.`, param, 'invalid_image');
  const b64 = url.slice(comma + 1).replace(/\s+/g, '');
  const bytes = Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
  if (bytes > maxBytes) throw badRequest(`The image has ${bytes} bytes; at most ${maxBytes} are accepted per image.`, param, 'image_too_large');
  if (!BASE64.test(b64) || b64.length % 4 === 1) throw badRequest('The image data: URL is not valid base64.', param, 'invalid_image_url');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** GET of a remote image with a time limit and a byte cap (only when the server allows it). */
async function fetchImage(url: string, o: { maxBytes: number; timeoutMs: number; signal?: AbortSignal }, param: string): Promise<Uint8Array> {
  const signal = AbortSignal.any([AbortSignal.timeout(o.timeoutMs), ...(o.signal ? [o.signal] : [])]);
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    if (o.signal?.aborted) throw e;
    throw badRequest(`Could not fetch the image URL within ${o.timeoutMs} ms: ${(e as Error).message}`, param, 'image_fetch_failed');
  }
  if (!res.ok || !res.body) throw badRequest(`Fetching the image URL gave HTTP ${res.status}.`, param, 'image_fetch_failed');
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > o.maxBytes) {
    await res.body.cancel().catch(() => {});
    throw badRequest(`The image has ${declared} bytes; at most ${o.maxBytes} are accepted per image.`, param, 'image_too_large');
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += c.length;
      if (total > o.maxBytes) throw badRequest(`The image has more than ${o.maxBytes} bytes; at most ${o.maxBytes} are accepted per image.`, param, 'image_too_large');
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof ApiError || o.signal?.aborted) throw e;
    throw badRequest(`Could not fetch the image URL within ${o.timeoutMs} ms: ${(e as Error).message}`, param, 'image_fetch_failed');
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A 400 for image parts sent to a text-only model (checked before anything else about the prompt). */
export function refuseImagesIfTextOnly(sc: ServerContext, messages: readonly RequestMessage[]): void {
  if (!sc.model.vision && hasImageParts(messages)) {
    throw badRequest(`The model '${sc.model.name}' is text-only: it does not accept image content parts. Send text, or serve a vision-language model (LLaVA).`, 'messages', 'model_not_multimodal');
  }
}

/**
 * Chat prompt ids of a request with image parts, for a vision-language model: every image
 * read, size-checked and decoded (a 400 naming the part for a bad one), the messages as
 * segments. A model without vision, or a request that also sends tools, gets a 400.
 */
export async function encodeImageChat(sc: ServerContext, messages: readonly RequestMessage[], o: { tools?: boolean; signal?: AbortSignal } = {}): Promise<number[]> {
  refuseImagesIfTextOnly(sc, messages);
  const vision = sc.model.vision!;
  if (o.tools) throw badRequest('Function tools cannot be combined with images on this model.', 'tools', 'unsupported_parameter');
  const limits = { ...DEFAULT_SERVER_LIMITS, ...sc.limits };
  const count = messages.reduce((a, m) => a + partsOf(m).filter((p) => p.type === 'image_url').length, 0);
  if (count > limits.maxImagesPerRequest) throw badRequest(`The request has ${count} images; at most ${limits.maxImagesPerRequest} are accepted per request.`, 'messages', 'too_many_images');
  const images: RgbImage[] = [];
  const out: VisionMessage[] = [];
  let chars = 0;
  for (const [i, m] of messages.entries()) {
    if (m.role === 'tool' || (m.role === 'assistant' && m.tool_calls?.length)) throw badRequest('Tool messages cannot be combined with images on this model.', `messages[${i}]`, 'unsupported_parameter');
    if (typeof m.content === 'string' || m.content == null) {
      out.push({ role: m.role, content: m.content ?? '' });
      chars += (m.content ?? '').length;
      continue;
    }
    const segs: VisionSegment[] = [];
    for (const [j, p] of partsOf(m).entries()) {
      if (p.type === 'text') {
        segs.push(p.text ?? '');
        chars += (p.text ?? '').length;
        continue;
      }
      const param = `messages[${i}].content[${j}].image_url.url`;
      if (m.role !== 'user') throw badRequest('Images go in user messages.', param, 'invalid_value');
      const url = p.image_url!.url;
      let bytes: Uint8Array;
      if (/^data:/i.test(url)) bytes = dataUrlBytes(url, limits.maxImageBytes, param);
      else if (/^https?:\/\//i.test(url)) {
        if (!limits.allowRemoteImages) throw badRequest('This server does not fetch remote image URLs (start it with --allow-remote-images to allow them); send the image as a base64 data: URL.', param, 'remote_images_disabled');
        bytes = await fetchImage(url, { maxBytes: limits.maxImageBytes, timeoutMs: limits.remoteImageTimeoutMs, signal: o.signal }, param);
      } else throw badRequest('An image URL must be a base64 data: URL (or http(s) when the server allows remote images).', param, 'invalid_image_url');
      try {
        images.push(decodeImage(bytes, { maxPixels: limits.maxImagePixels, name: `messages[${i}].content[${j}]` }));
      } catch (e) {
        if (e instanceof SlmError) throw badRequest(e.message, param, 'invalid_image');
        throw e;
      }
      segs.push({ image: images.length - 1 });
    }
    out.push({ role: m.role, content: segs });
  }
  if (chars > maxPromptChars(sc)) throw badRequest(`The messages have ${chars} characters: more than ${maxPromptChars(sc)} cannot fit the context.`, 'messages', 'context_length_exceeded');
  try {
    return await vision.encodeChat(out, images, o.signal);
  } catch (e) {
    throw tokenizationError(e, 'messages');
  }
}
