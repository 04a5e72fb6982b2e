// Writes a file so that readers never see it half-written: the bytes go to a temporary file
// in the same folder (same filesystem, so rename is atomic), which replaces the target last.
// (Whole-buffer writes: src/util/atomic-file.ts; this one streams, for multi-GB weights.)
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { tempPathFor } from '../util/atomic-file.ts';

export async function writeFileAtomic(path: string, write: (out: SequentialWriter) => Promise<void>): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx');
  let ok = false;
  try {
    await write(new SequentialWriter(fh));
    await fh.datasync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => {});
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export class SequentialWriter {
  position = 0;
  constructor(private readonly fh: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, Math.min(bytes.length - done, 1 << 30), this.position + done);
      done += bytesWritten;
    }
    this.position += bytes.length;
  }

  async pad(n: number): Promise<void> {
    if (n > 0) await this.write(new Uint8Array(n));
  }
}
