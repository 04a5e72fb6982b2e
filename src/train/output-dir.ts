// The training output folder: checked before the first step, and errors writing into it typed.
//
// An unwritable folder used to surface as a raw EPERM stack trace (on `.metrics.jsonl…tmp`), a
// parent that is a file as raw ENOTDIR, and a path under /proc made Node's recursive mkdir spin
// at full CPU. checkOutputDir refuses virtual filesystems, walks the path itself (never handing
// mkdir an ancestor that is not a folder), creates the folder and writes a probe file, each
// failure a SlmError naming the path. outputError turns an errno error during the run into a
// SlmError that names the path and says what survives.
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SlmError } from '../errors.ts';

/** statfs f_type values of kernel virtual filesystems (linux/magic.h) nobody trains into. */
const VIRTUAL_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x1cd1: 'devpts',
  0x73636673: 'securityfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x6e736673: 'nsfs',
  0xcafe4a11: 'bpf',
};
const VIRTUAL_PREFIXES = ['/proc', '/sys', '/dev'];

const describe = (e: unknown) => {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '')}` : String((e as Error)?.message ?? e);
};

/** The nearest ancestor of `p` (itself included) that exists. */
function nearestExisting(p: string): string {
  let cur = p;
  while (!existsSync(cur)) {
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

function checkNotVirtual(out: string, existing: string): void {
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    /* keep the path as given */
  }
  for (const pre of VIRTUAL_PREFIXES) {
    if (real === pre || real.startsWith(pre + sep)) {
      throw new SlmError('INVALID_ARGUMENT', `output folder ${out}: ${pre} is a virtual filesystem; choose a folder on a disk`);
    }
  }
  try {
    const type = Number(statfsSync(real).type);
    if (VIRTUAL_FS[type]) throw new SlmError('INVALID_ARGUMENT', `output folder ${out}: it lies on a ${VIRTUAL_FS[type]} virtual filesystem; choose a folder on a disk`);
  } catch (e) {
    if (e instanceof SlmError) throw e;
    // statfs unavailable: the path check above stands.
  }
}

/**
 * Makes sure training can write into `out`: not on a virtual filesystem, every existing
 * ancestor a folder, the folder created, and a probe file written and removed.
 */
export function checkOutputDir(out: string): void {
  const abs = resolve(out);
  const existing = nearestExisting(abs);
  checkNotVirtual(out, existing);
  if (!statSync(existing).isDirectory()) {
    throw new SlmError('INVALID_ARGUMENT', `output folder ${out}: ${existing} is a file, not a folder (ENOTDIR)`);
  }
  try {
    mkdirSync(abs, { recursive: true });
  } catch (e) {
    throw new SlmError('INVALID_ARGUMENT', `cannot create the output folder ${out} (${describe(e)})`, { cause: e });
  }
  const probe = join(abs, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(probe, 'wx');
    try {
      writeSync(fd, 'ok');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new SlmError('INVALID_ARGUMENT', `cannot write into the output folder ${out} (${describe(e)}); check its permissions`, { cause: e });
  } finally {
    rmSync(probe, { force: true });
  }
}

const FS_CODES = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EROFS', 'ENOSPC', 'EDQUOT', 'EISDIR', 'ENOENT', 'EEXIST', 'EMFILE', 'EIO']);

/** An errno error while writing `what` into `out` as a SlmError naming both; other errors as they are. */
export function outputError(e: unknown, out: string, what: string, survives?: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (e instanceof SlmError || !code || !FS_CODES.has(code)) return e;
  const path = (e as NodeJS.ErrnoException).path ?? out;
  return new SlmError('RUNTIME_ERROR', `cannot write ${what} in ${out}: ${code} on ${path}${survives ? `; ${survives}` : ''}`, { cause: e });
}
