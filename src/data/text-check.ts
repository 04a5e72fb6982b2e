// A quick look at plain-text training files before they are tokenized: 2 MB of random bytes
// given as --data used to train silently as "text". The start of each file (up to SAMPLE_BYTES)
// is checked for invalid UTF-8 and for what binary files have (NUL bytes, many control bytes).
import { closeSync, openSync, readSync } from 'node:fs';
import { isJsonlFile, listInputFiles } from './sources.ts';

const SAMPLE_BYTES = 1 << 20;

/** Why `bytes` do not look like UTF-8 text, or undefined when they do. */
export function binaryReason(bytes: Uint8Array, truncated: boolean): string | undefined {
  let nul = 0;
  let control = 0;
  for (const b of bytes) {
    if (b === 0) nul++;
    else if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
  }
  if (nul > 0) return `it contains NUL bytes (${nul} in the first ${bytes.length}): it looks binary`;
  try {
    // stream: a multi-byte character cut by the sample's end is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
  } catch {
    return 'it is not valid UTF-8';
  }
  if (control > bytes.length / 100) return `${control} control bytes in the first ${bytes.length}: it looks binary`;
  return undefined;
}

/** One warning per plain-text input file that looks binary or is not valid UTF-8. */
export function textFileWarnings(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const file of listInputFiles(paths)) {
    if (isJsonlFile(file)) continue;
    const fd = openSync(file, 'r');
    try {
      const buf = new Uint8Array(SAMPLE_BYTES);
      const n = readSync(fd, buf, 0, SAMPLE_BYTES, 0);
      const reason = binaryReason(buf.subarray(0, n), n === SAMPLE_BYTES);
      if (reason) out.push(`${file}: ${reason}; it will be trained on as text (invalid bytes become U+FFFD)`);
    } finally {
      closeSync(fd);
    }
  }
  return out;
}
