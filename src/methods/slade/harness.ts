// IO harness: record input/output examples of a C function by running the original, then check a
// decompiled function against them (SLaDe's "IO accuracy"). Inputs are random but fixed by a
// seed: small integers (they are often sizes or indices), floats in [-8, 8), and for pointer
// parameters a 32-element buffer (char buffers hold a NUL-terminated lowercase string). The
// driver prints the return value and every buffer after each call; a prediction passes when
// its driver prints the same text and exits 0. Both run in the bubblewrap sandbox with CPU,
// memory, process and wall-time limits, x86-64 natively and AArch64 under qemu-aarch64.
import { runSandboxed, type SandboxResult } from '../../sandbox/index.ts';
import { toolchain, type Arch } from './compile.ts';
import { parseSignature, typeText, type CType, type Signature } from './signature.ts';
import { mulberry32 } from '../../util/rng.ts';

export const BUFFER_LEN = 32;

export interface IOExamples {
  /** The function name the driver calls. */
  name: string;
  /** The original's signature: the driver declares the function with it. */
  sig: Signature;
  /** `int main()` calling the function on the recorded inputs. */
  driver: string;
  /** What the original printed. */
  expected: string;
  cases: number;
}


const isFloat = (t: CType) => t.scalar === 'float' || t.scalar === 'double';
const isChar = (t: CType) => t.scalar === 'char' || t.scalar === 'signed char' || t.scalar === 'unsigned char';

function scalarLiteral(t: CType, rnd: () => number): string {
  if (isFloat(t)) return (Math.round((rnd() * 16 - 8) * 100) / 100).toFixed(2);
  if (t.scalar === '_Bool') return rnd() < 0.5 ? '0' : '1';
  if (isChar(t)) return String(97 + Math.floor(rnd() * 26));
  return String(Math.floor(rnd() * 20) - 2);
}

function printFor(t: CType, expr: string): string {
  if (isFloat(t)) return `printf("%.6g\\n", (double)(${expr}));`;
  if (t.scalar.startsWith('unsigned') || t.scalar === '_Bool') return `printf("%llu\\n", (unsigned long long)(${expr}));`;
  return `printf("%lld\\n", (long long)(${expr}));`;
}

/** A driver `main` for `sig`: `cases` calls on seeded random inputs, printing outputs and buffers. */
export function buildDriver(sig: Signature, cases: number, seed: number): string {
  const rnd = mulberry32(seed);
  const lines: string[] = ['#include <stdio.h>', '#include <string.h>', 'int main(void) {'];
  sig.params.forEach((p, i) => {
    if (p.pointer) lines.push(`  static ${p.scalar} b${i}[${BUFFER_LEN}];`);
  });
  for (let c = 0; c < cases; c++) {
    lines.push('  {');
    const args: string[] = [];
    sig.params.forEach((p, i) => {
      if (!p.pointer) {
        args.push(`(${p.scalar})${scalarLiteral(p, rnd)}`);
        return;
      }
      const vals: string[] = [];
      const strLen = Math.floor(rnd() * (BUFFER_LEN - 1));
      for (let k = 0; k < BUFFER_LEN; k++) vals.push(isChar(p) ? (k < strLen ? String(97 + Math.floor(rnd() * 26)) : '0') : scalarLiteral(p, rnd));
      lines.push(`    { static const ${p.scalar} init[${BUFFER_LEN}] = {${vals.join(',')}}; memcpy(b${i}, init, sizeof init); }`);
      args.push(`b${i}`);
    });
    const call = `${sig.name}(${args.join(', ')})`;
    if (sig.ret.scalar === 'void' && !sig.ret.pointer) lines.push(`    ${call};`);
    else if (sig.ret.pointer) lines.push(`    { const void *r = ${call}; printf("%s\\n", r ? "ptr" : "null"); }`);
    else lines.push(`    ${printFor(sig.ret, call)}`);
    sig.params.forEach((p, i) => {
      if (p.pointer) lines.push(`    for (int k = 0; k < ${BUFFER_LEN}; k++) ${printFor({ scalar: p.scalar, pointer: false }, `b${i}[k]`)}`);
    });
    lines.push('    fflush(stdout);', '  }');
  }
  lines.push('  return 0;', '}');
  return lines.join('\n') + '\n';
}

/** Declaration of the function for the driver file. */
export function prototype(sig: Signature): string {
  return `${typeText(sig.ret)} ${sig.name}(${sig.params.map(typeText).join(', ') || 'void'});`;
}

/** Seconds a compiled driver may run (qemu-aarch64 included) before it is killed and scored as a failure. */
export const RUN_SECONDS = 5;

/**
 * Compile `source` (a unit defining the function) with the driver and run it, all sandboxed.
 * The program runs under `timeout -s KILL` inside the sandbox so a looping candidate costs
 * RUN_SECONDS, not the compile budget; exit 137 then means "killed" (timedOut is set).
 */
export async function runWithDriver(source: string, driver: string, sig: Signature, arch: Arch, runSeconds = RUN_SECONDS): Promise<SandboxResult & { compiled: boolean }> {
  const t = toolchain(arch);
  const static_ = arch === 'aarch64' ? ' -static' : '';
  const run = [...t.run, './prog'].join(' ');
  // The driver sees only a prototype, so the function's own helper declarations do not clash.
  const files = { 'f.c': source, 'main.c': `${prototype(sig)}\n${driver}` };
  const r = await runSandboxed({
    argv: ['/bin/sh', '-c', `${t.cc} -O0 -w${static_} f.c main.c -o prog -lm 2>cc.err || { cat cc.err >&2; exit 97; }; exec timeout -s KILL ${runSeconds} ${run}`],
    files,
    cpuSeconds: 30 + runSeconds,
    wallTimeMs: 45_000 + runSeconds * 1000,
    outputBytes: 256 << 10,
    memoryBytes: 2 << 30,
  });
  return { ...r, timedOut: r.timedOut || r.exitCode === 137, compiled: r.exitCode !== 97 };
}

/**
 * Record IO examples of `name` in `source` (a self-contained unit, e.g. from inferStubs). Returns
 * undefined when the function cannot be driven: unsupported signature, callees only stubbed,
 * or the original crashes / times out on the inputs.
 */
export async function recordIO(source: string, name: string, arch: Arch, opts: { cases?: number; seed?: number } = {}): Promise<IOExamples | undefined> {
  const sig = parseSignature(source, name);
  if (!sig) return undefined;
  const cases = opts.cases ?? 8;
  const driver = buildDriver(sig, cases, opts.seed ?? 1);
  const r = await runWithDriver(source, driver, sig, arch);
  if (r.exitCode !== 0 || r.timedOut || r.outputTruncated) return undefined;
  return { name, sig, driver, expected: r.stdout, cases };
}

export interface IOCheck {
  compiled: boolean;
  passed: boolean;
  detail: string;
}

/** Run a predicted unit on recorded examples; passes when it prints exactly what the original did. */
export async function checkIO(predicted: string, io: IOExamples, arch: Arch): Promise<IOCheck> {
  const r = await runWithDriver(predicted, io.driver, io.sig, arch);
  if (!r.compiled) return { compiled: false, passed: false, detail: r.stderr.slice(0, 500) };
  if (r.timedOut) return { compiled: true, passed: false, detail: 'timed out' };
  if (r.outputTruncated) return { compiled: true, passed: false, detail: 'output cap exceeded' };
  if (r.exitCode !== 0) return { compiled: true, passed: false, detail: `exit ${r.exitCode ?? r.signal}` };
  return { compiled: true, passed: r.stdout === io.expected, detail: r.stdout === io.expected ? 'ok' : 'output differs' };
}
