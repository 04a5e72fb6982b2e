// Runs untrusted programs (model-written Python for pass@k, the TinyGSM pipeline) in a sandbox
// built on bubblewrap (Debian package `bubblewrap`), not a home-made one:
//
// - namespaces: `--unshare-all` (no network: only a loopback-less net namespace; own PID, IPC,
//   UTS, cgroup and user namespaces), `--die-with-parent`, `--new-session`, a cleared
//   environment;
// - files: /usr read-only (with the /bin, /lib, /lib64 symlinks a merged-/usr system has), a
//   fresh /proc and /dev, and one temporary directory mounted as /work and /tmp: the only
//   writable place, removed afterwards;
// - limits via prlimit(1) inside: CPU seconds (RLIMIT_CPU), address space (RLIMIT_AS), processes
//   (RLIMIT_NPROC), file size (RLIMIT_FSIZE); wall time by a timer that kills the process group;
//   stdout+stderr capped (the process is killed once the cap is exceeded).
//
// RLIMIT_NPROC counts the processes of a real uid and is not enforced for root, so when slmkit
// runs as root the sandbox starts as uid 65534 (nobody) through setpriv(1); bubblewrap then
// creates an unprivileged user namespace.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlmError } from '../errors.ts';

export interface SandboxLimits {
  /** CPU seconds (RLIMIT_CPU). Default 10. */
  cpuSeconds?: number;
  /** Wall-clock limit. Default 10 000 ms. */
  wallTimeMs?: number;
  /** Address-space bytes (RLIMIT_AS). Default 1 GiB. */
  memoryBytes?: number;
  /** Processes of the sandbox user (RLIMIT_NPROC). Default 32. */
  maxProcesses?: number;
  /** stdout + stderr bytes kept; more kills the program. Default 1 MiB. */
  outputBytes?: number;
  /** Largest file the program may write (RLIMIT_FSIZE). Default 16 MiB. */
  fileBytes?: number;
}

export interface SandboxRun extends SandboxLimits {
  /** argv inside the sandbox (absolute paths, or names on /usr/bin). */
  argv: string[];
  /** Files written into the working directory (/work) first. */
  files?: Record<string, string>;
  stdin?: string;
  signal?: AbortSignal;
}

export interface SandboxResult {
  exitCode: number | null;
  /** The signal that ended the program (SIGKILL after a wall-time or output-cap kill, SIGXCPU for CPU time). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  outputTruncated: boolean;
  durationMs: number;
}

const DEFAULTS: Required<SandboxLimits> = {
  cpuSeconds: 10,
  wallTimeMs: 10_000,
  memoryBytes: 1 << 30,
  maxProcesses: 32,
  outputBytes: 1 << 20,
  fileBytes: 16 << 20,
};

const SANDBOX_UID = 65534;
/** /usr read-only, with the /bin, /lib, /lib64, /sbin symlinks of a merged-/usr system. */
const SYSTEM_MOUNTS = ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/sbin', '/sbin'];
let checked: string | undefined;

/** Throws a clear error when bubblewrap is missing or cannot create its namespaces here. */
export function checkSandbox(): void {
  if (checked === 'ok') return;
  const probe = spawnSync('bwrap', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new SlmError('UNSUPPORTED', 'the code sandbox needs bubblewrap (`apt-get install bubblewrap`); `bwrap` was not found on PATH');
  const args = [...launcher(), 'bwrap', ...SYSTEM_MOUNTS, '--unshare-all', '--die-with-parent', '--', '/usr/bin/true'];
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new SlmError('UNSUPPORTED', `bubblewrap cannot create its namespaces on this machine: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  checked = 'ok';
}

function launcher(): string[] {
  return process.getuid?.() === 0 ? ['setpriv', `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, '--clear-groups', '--'] : [];
}

export async function runSandboxed(run: SandboxRun): Promise<SandboxResult> {
  checkSandbox();
  const L = { ...DEFAULTS, ...Object.fromEntries(Object.entries(run).filter(([k, v]) => k in DEFAULTS && v !== undefined)) } as Required<SandboxLimits>;
  const dir = mkdtempSync(join(tmpdir(), 'slm-sandbox-'));
  try {
    for (const [name, text] of Object.entries(run.files ?? {})) {
      if (name.includes('/') || name.startsWith('.')) throw new SlmError('INVALID_ARGUMENT', `sandbox file name '${name}' must be a plain name`);
      writeFileSync(join(dir, name), text);
    }
    if (process.getuid?.() === 0) {
      chownSync(dir, SANDBOX_UID, SANDBOX_UID);
      for (const name of Object.keys(run.files ?? {})) chownSync(join(dir, name), SANDBOX_UID, SANDBOX_UID);
    } else chmodSync(dir, 0o700);
    const args = [
      ...launcher(),
      'bwrap',
      ...SYSTEM_MOUNTS,
      '--proc', '/proc',
      '--dev', '/dev',
      '--bind', dir, '/work',
      '--bind', dir, '/tmp',
      // The root bwrap builds is a tmpfs: read-only, so /work (= /tmp) is the only writable place.
      '--remount-ro', '/',
      '--chdir', '/work',
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
      '--setenv', 'PATH', '/usr/bin:/bin',
      '--setenv', 'HOME', '/work',
      '--setenv', 'LANG', 'C.UTF-8',
      '--setenv', 'PYTHONDONTWRITEBYTECODE', '1',
      '--',
      '/usr/bin/prlimit',
      `--cpu=${L.cpuSeconds}`,
      `--as=${L.memoryBytes}`,
      `--nproc=${L.maxProcesses}`,
      `--fsize=${L.fileBytes}`,
      '--core=0',
      '--',
      ...run.argv,
    ];
    return await new Promise<SandboxResult>((resolve, reject) => {
      const started = performance.now();
      const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      let timedOut = false;
      let truncated = false;
      const kill = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const take = (into: Buffer[]) => (chunk: Buffer) => {
        if (truncated) return;
        if (bytes + chunk.length > L.outputBytes) {
          into.push(chunk.subarray(0, L.outputBytes - bytes));
          bytes = L.outputBytes;
          truncated = true;
          kill();
          return;
        }
        bytes += chunk.length;
        into.push(chunk);
      };
      child.stdout.on('data', take(out));
      child.stderr.on('data', take(err));
      child.stdin.on('error', () => {});
      child.stdin.end(run.stdin ?? '');
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, L.wallTimeMs);
      const onAbort = () => kill();
      run.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new SlmError('RUNTIME_ERROR', `could not start the sandbox: ${e.message}`));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        run.signal?.removeEventListener('abort', onAbort);
        if (run.signal?.aborted) {
          reject(new SlmError('ABORTED', 'the sandboxed run was aborted'));
          return;
        }
        resolve({
          exitCode: code,
          signal: sig,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
          outputTruncated: truncated,
          durationMs: performance.now() - started,
        });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PythonResult extends SandboxResult {
  /** Ran to the end with exit status 0 within every limit (code_eval's "passed"). */
  passed: boolean;
}

/** Runs a Python program (`python3 -I program.py`) in the sandbox. */
export async function runPythonProgram(code: string, limits: SandboxLimits & { signal?: AbortSignal } = {}): Promise<PythonResult> {
  const r = await runSandboxed({ ...limits, argv: ['/usr/bin/python3', '-I', 'program.py'], files: { 'program.py': code } });
  return { ...r, passed: r.exitCode === 0 && !r.timedOut && !r.outputTruncated };
}
