// gcc in the loop: compile a C function for x86-64 or AArch64 at a given -O level and return its
// normalised assembly; check that a C text compiles. Every gcc/objdump run happens inside the
// bubblewrap sandbox (src/sandbox), since model-written C is untrusted input to the compiler too.
import { runSandboxed } from '../../sandbox/index.ts';
import { extractObjdumpFunction, normaliseAsm } from './normalise.ts';

export type Arch = 'x86_64' | 'aarch64';
export type OptLevel = 'O0' | 'O1' | 'O2' | 'O3';

export function toolchain(arch: Arch): { cc: string; objdump: string; run: string[] } {
  return arch === 'x86_64'
    ? { cc: 'gcc', objdump: 'objdump', run: [] }
    : { cc: 'aarch64-linux-gnu-gcc', objdump: 'aarch64-linux-gnu-objdump', run: ['qemu-aarch64'] };
}

export interface AsmResult {
  ok: boolean;
  /** Normalised asm of the function (normalise.ts), when ok. */
  asm?: string;
  stderr: string;
}

/** Compile `source` with `-c -O<n>` and return the normalised asm of function `name`. */
export async function compileFunctionAsm(source: string, name: string, arch: Arch, opt: OptLevel): Promise<AsmResult> {
  const t = toolchain(arch);
  const r = await runSandboxed({
    argv: ['/bin/sh', '-c', `${t.cc} -${opt} -w -c f.c -o f.o && ${t.objdump} -dr f.o`],
    files: { 'f.c': source },
    wallTimeMs: 30_000,
    cpuSeconds: 30,
    outputBytes: 4 << 20,
  });
  if (r.exitCode !== 0) return { ok: false, stderr: r.stderr };
  const lines = extractObjdumpFunction(r.stdout, name);
  if (!lines || lines.length === 0) return { ok: false, stderr: `function ${name} not found in the object` };
  return { ok: true, asm: normaliseAsm(lines, name), stderr: '' };
}

/** Does `source` compile (syntax + types) as a translation unit? Returns gcc's diagnostics. */
export async function compiles(source: string, arch: Arch = 'x86_64', flags: string[] = []): Promise<{ ok: boolean; stderr: string }> {
  const t = toolchain(arch);
  const r = await runSandboxed({ argv: [t.cc, '-fsyntax-only', ...flags, 'f.c'], files: { 'f.c': source }, wallTimeMs: 20_000, cpuSeconds: 20 });
  return { ok: r.exitCode === 0, stderr: r.stderr };
}
