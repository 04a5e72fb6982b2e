// The external data file: weight bytes of every initializer, streamed to disk one tensor at a
// time (at most one weight is in memory at once), at the 4 KiB-aligned offsets lower.ts
// planned, and the params' content hashes (cache keys); the node-free byte forms live in initializer-bytes.ts.

import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { isQuant, type HostTensor, type QuantizedWeight } from '../ir/dtype.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import type { LoweredModel } from './lower.ts';
import { bytesOf, initializerBytes, type ParamLoader, type ParamValue } from './initializer-bytes.ts';

export { initializerBytes, makeParamLoader, type ParamLoader, type ParamValue } from './initializer-bytes.ts';

/** sha256 of a param's bytes (codes and scales for quantized weights). */
export function contentHash(v: ParamValue): string {
  const h = createHash('sha256');
  if (isQuant(v.dtype)) {
    h.update(bytesOf((v as QuantizedWeight).codes));
    h.update(bytesOf((v as QuantizedWeight).scales));
  } else h.update(bytesOf((v as HostTensor).data));
  return h.digest('hex');
}

/** Streams every initializer of `lowered` into a new file at `path`. */
export async function writeDataFile(path: string, lowered: LoweredModel, load: ParamLoader, signal?: AbortSignal): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    for (const init of lowered.initializers) {
      throwIfAborted(signal);
      const bytes = await initializerBytes(init, load);
      if (bytes.byteLength !== init.byteLength) throw new SlmError('INVALID_ARGUMENT', `initializer '${init.name}': ${bytes.byteLength} bytes, expected ${init.byteLength}`);
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30), init.offset + done);
        done += bytesWritten;
      }
    }
    // Padding after the last tensor is not needed; the size is exactly the planned end.
    await fh.truncate(lowered.dataSize);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
