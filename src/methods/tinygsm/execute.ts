// Executes TinyGSM programs (`def simple_math_problem() -> int:` ... `return result`) in the
// bubblewrap sandbox (src/sandbox) and compares their value with the gold answer: the labels of
// the verifier's training data and the answers of best-of-N selection (TinyGSM §8: the label is 1
// when executing the code gives the correct final answer; intermediate steps are not checked).
//
// Spawning one sandbox per program costs ~0.1 s, which dominates for thousands of programs, so a
// batch of programs runs in ONE sandbox under a small Python driver that forks a fresh process
// per program, with its own CPU-time, address-space and wall-clock limit, its output discarded and
// its value sent back over a pipe. A crash, hang, `exit()` or memory blow-up of one program
// therefore costs only its own result. The sandbox stays the security boundary for the host.
// Programs of one batch share the sandbox's uid and /work, so a program written to attack the
// driver could disturb the results of its own batch (never the host); when the driver's output is
// not a well-formed result list the batch is re-run one program per sandbox, and `isolate: true`
// always does that.
import { SlmError } from '../../errors.ts';
import { runSandboxed, type SandboxLimits } from '../../sandbox/index.ts';

export type ExecStatus = 'ok' | 'error' | 'timeout' | 'no_value';

export interface ExecResult {
  status: ExecStatus;
  /** The returned value as a number (ints, floats, bools and numeric strings); null otherwise. */
  value: number | null;
  /** repr() of the returned value, or the exception (`ZeroDivisionError: division by zero`). */
  detail: string;
}

export interface ExecuteOptions {
  /** Wall-clock seconds per program (also its CPU-time limit, rounded up). Default 2. */
  timeoutSeconds?: number;
  /** Address space per program. Default 256 MiB. */
  memoryBytes?: number;
  /** Programs per sandbox. Default 64. */
  batchSize?: number;
  /** One sandbox per program (slower; no shared driver). Default false. */
  isolate?: boolean;
  /** Sandboxes at once. Default 2. */
  concurrency?: number;
  signal?: AbortSignal;
}

// The driver reads programs.json (a list of source strings), runs each in a forked child and
// prints one JSON list of {s, v, d}. Limits come on argv. The child writes at most 4 KiB.
const DRIVER = String.raw`
import json, math, os, resource, select, signal, sys, time
timeout = float(sys.argv[1]); mem = int(sys.argv[2])
programs = json.load(open('programs.json'))
def child(code, w):
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0); os.dup2(null, 1); os.dup2(null, 2)
        cpu = max(1, math.ceil(timeout))
        # Soft below hard: the kernel sends SIGXCPU at the soft limit (reported as a timeout);
        # with soft == hard it sends SIGKILL instead, indistinguishable from other kills.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        ns = {'__name__': '__solution__'}
        exec(compile(code, 'solution.py', 'exec'), ns)
        f = ns.get('simple_math_problem')
        if not callable(f):
            msg = {'s': 'no_value', 'v': None, 'd': 'no function simple_math_problem'}
        else:
            v = f()
            num = None
            if isinstance(v, bool) or isinstance(v, (int, float)):
                num = float(v)
            elif isinstance(v, str):
                try: num = float(v.strip().replace(',', '').lstrip('$'))
                except ValueError: num = None
            else:
                try: num = float(v)
                except Exception: num = None
            if num is not None and not math.isfinite(num): num = None
            msg = {'s': 'ok' if num is not None else 'no_value', 'v': num, 'd': repr(v)[:200]}
    except BaseException as e:
        msg = {'s': 'error', 'v': None, 'd': (type(e).__name__ + ': ' + str(e))[:200]}
    try: os.write(w, json.dumps(msg).encode()[:4096])
    finally: os._exit(0)
out = []
for code in programs:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r); child(code, w)
    os.close(w)
    data = b''; deadline = time.monotonic() + timeout; timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0: timed_out = True; break
        ready, _, _ = select.select([r], [], [], left)
        if not ready: continue
        chunk = os.read(r, 8192)
        if not chunk or len(data) > 8192: break
        data += chunk
    os.close(r)
    try: os.kill(pid, signal.SIGKILL)
    except ProcessLookupError: pass
    _, status = os.waitpid(pid, 0)
    try: msg = json.loads(data.decode())
    except Exception: msg = None
    if timed_out: msg = {'s': 'timeout', 'v': None, 'd': 'timed out after %gs' % timeout}
    elif not isinstance(msg, dict):
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        msg = {'s': 'timeout' if sig == signal.SIGXCPU else 'error', 'v': None, 'd': 'killed by signal %s' % sig if sig else 'no result'}
    out.append(msg)
sys.stdout.write(json.dumps(out) + '\n')
`;

const NO_RESULT: ExecResult = { status: 'error', value: null, detail: 'the sandboxed run produced no result' };
const STATUSES = new Set<ExecStatus>(['ok', 'error', 'timeout', 'no_value']);

function parseDriverOutput(stdout: string, n: number): ExecResult[] | undefined {
  let rows: unknown;
  try {
    rows = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return undefined;
  }
  if (!Array.isArray(rows) || rows.length !== n) return undefined;
  const out: ExecResult[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    if (!r || typeof r !== 'object' || !STATUSES.has(r.s as ExecStatus)) return undefined;
    const v = typeof r.v === 'number' && Number.isFinite(r.v) ? r.v : null;
    out.push({ status: r.s === 'ok' && v === null ? 'no_value' : (r.s as ExecStatus), value: r.s === 'ok' ? v : null, detail: String(r.d ?? '') });
  }
  return out;
}

async function runBatch(programs: string[], o: Required<Omit<ExecuteOptions, 'signal'>> & { signal?: AbortSignal }): Promise<ExecResult[] | undefined> {
  const limits: SandboxLimits = {
    // The sandbox's own limits only bound the whole batch; each program has its own inside.
    wallTimeMs: Math.ceil((programs.length * (o.timeoutSeconds + 0.5) + 10) * 1000),
    cpuSeconds: Math.ceil(programs.length * (o.timeoutSeconds + 0.5) + 10),
    memoryBytes: Math.max(o.memoryBytes * 2, 512 << 20),
    outputBytes: programs.length * 4500 + 4096,
  };
  const r = await runSandboxed({
    ...limits,
    argv: ['/usr/bin/python3', '-I', 'driver.py', String(o.timeoutSeconds), String(o.memoryBytes)],
    files: { 'driver.py': DRIVER, 'programs.json': JSON.stringify(programs) },
    signal: o.signal,
  });
  return r.exitCode === 0 ? parseDriverOutput(r.stdout, programs.length) : undefined;
}

/** Runs each program and returns its value; results are in input order. */
export async function executePrograms(programs: readonly string[], opts: ExecuteOptions = {}): Promise<ExecResult[]> {
  const o = {
    timeoutSeconds: opts.timeoutSeconds ?? 2,
    memoryBytes: opts.memoryBytes ?? 256 << 20,
    batchSize: opts.isolate ? 1 : (opts.batchSize ?? 64),
    isolate: opts.isolate ?? false,
    concurrency: opts.concurrency ?? 2,
    signal: opts.signal,
  };
  if (!(o.timeoutSeconds > 0 && o.timeoutSeconds <= 600)) throw new SlmError('INVALID_ARGUMENT', `timeoutSeconds must be in (0, 600], got ${o.timeoutSeconds}`);
  if (!(o.batchSize >= 1)) throw new SlmError('INVALID_ARGUMENT', `batchSize must be >= 1, got ${o.batchSize}`);
  const out: ExecResult[] = new Array(programs.length);
  const batches: number[] = [];
  for (let i = 0; i < programs.length; i += o.batchSize) batches.push(i);
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const start = batches[next++]!;
      const slice = programs.slice(start, start + o.batchSize);
      let res = await runBatch(slice, o);
      if (!res && slice.length > 1) {
        // The driver itself was disturbed: redo this batch one program per sandbox.
        res = [];
        for (const p of slice) res.push(((await runBatch([p], o)) ?? [NO_RESULT])[0]!);
      }
      res ??= [NO_RESULT];
      res.forEach((r, k) => (out[start + k] = r));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, batches.length)) }, lane));
  return out;
}

/** Gold answers are numbers; a value matches within 1e-4 (relative for large values), as GSM8K answers are integers. */
export function answerMatches(value: number | null, gold: number): boolean {
  if (value === null) return false;
  return Math.abs(value - gold) <= 1e-4 * Math.max(1, Math.abs(gold));
}

/** GSM8K's gold answer: the number after `####` (commas removed). */
export function gsm8kGold(answer: string): number {
  const m = /####\s*(-?[\d,]*\.?\d+)/.exec(answer);
  if (!m) throw new SlmError('INVALID_ARGUMENT', `no '#### <number>' in the GSM8K answer: ${JSON.stringify(answer.slice(-80))}`);
  return Number(m[1]!.replace(/,/g, ''));
}
