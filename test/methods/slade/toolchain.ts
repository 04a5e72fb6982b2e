// Skip reasons for the SLaDe tests: each needs the bubblewrap sandbox and a C toolchain.
import { spawnSync } from 'node:child_process';
import { checkSandbox } from '../../../src/sandbox/index.ts';

function missing(bin: string): boolean {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).error !== undefined;
}

export function skipReason(arch: 'x86_64' | 'aarch64' = 'x86_64'): string | false {
  try {
    checkSandbox();
  } catch (e) {
    return `sandbox unavailable: ${(e as Error).message}`;
  }
  if (missing('gcc')) return 'gcc not installed';
  if (arch === 'aarch64') {
    if (missing('aarch64-linux-gnu-gcc')) return 'gcc-aarch64-linux-gnu not installed';
    if (missing('qemu-aarch64')) return 'qemu-user not installed';
  }
  return false;
}
