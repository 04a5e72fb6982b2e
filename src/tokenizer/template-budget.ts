// A chat-template renderer with a budget. Templates arrive with downloaded models, so they are
// untrusted code: `{% for i in range(10**9) %}` made V8 abort the process (an array too large to
// allocate is a fatal error, not an exception) and two nested `range(100000)` loops froze it.
//
// @huggingface/jinja's Interpreter dispatches every node through `evaluate` and every loop
// iteration through `evaluateBlock`, so a subclass that counts those calls sees all the work a
// template does. On top of that:
// - `range` is replaced by one that refuses results past maxItems and charges its length to the
//   step budget (a loop with an empty body iterates without calling evaluate per item);
// - every string or list a node produces is checked against the output caps, and the characters
//   blocks emit are counted (a loop concatenates its iterations without returning in between);
// - integer arguments larger than the output cap are refused (tojson(indent=10**8) would build
//   the padding before any result is checked);
// - the wall clock is checked every 1024 steps; nesting depth (macro recursion) is capped.
// Breaking a budget throws LimitError naming the limit. Sync: callers that must not block (the
// server) run this in a worker thread (tokenizer-worker.ts), which adds a hard wall-clock kill.
import { Environment, Interpreter, type Template } from '@huggingface/jinja';
import { LimitError } from '../errors.ts';

export interface TemplateBudget {
  /** Nodes evaluated + loop iterations + items produced by range(). */
  maxSteps: number;
  /** Longest string (the rendered prompt included) any expression may produce, in characters. */
  maxOutputChars: number;
  /** Longest list any expression may produce (range(), list concatenation). */
  maxItems: number;
  /** Wall-clock time for one render, in milliseconds. */
  maxTimeMs: number;
  /** Nesting depth of evaluation (deep macro recursion). */
  maxDepth: number;
}

export const DEFAULT_TEMPLATE_BUDGET: Readonly<TemplateBudget> = Object.freeze({
  maxSteps: 1_000_000,
  maxOutputChars: 8 * 1024 * 1024,
  maxItems: 1_000_000,
  maxTimeMs: 2_000,
  maxDepth: 600,
});

type Node = Parameters<Interpreter['evaluate']>[0];
type Env = Parameters<Interpreter['evaluate']>[1];
type Value = ReturnType<Interpreter['evaluate']>;
type Arguments = [Value[], Map<string, Value>];

/**
 * The Interpreter methods this file hooks. evaluateBlock and evaluateArguments are private in
 * the library's typings (they are ordinary methods at runtime); the budget tests fail loudly if
 * a new @huggingface/jinja version renames them.
 */
interface InterpreterInternals {
  run(program: Template['parsed']): Value;
  evaluate(statement: Node, environment: Env): Value;
  evaluateBlock(statements: Node[], environment: Env): Value;
  evaluateArguments(args: unknown[], environment: Env): Arguments;
}
const HookableInterpreter = Interpreter as unknown as new (env: Environment) => InterpreterInternals;

class BudgetedInterpreter extends HookableInterpreter {
  private steps = 0;
  private depth = 0;
  private emitted = 0;
  private readonly deadline: number;

  constructor(
    env: Environment,
    private readonly budget: TemplateBudget,
  ) {
    super(env);
    this.deadline = performance.now() + budget.maxTimeMs;
  }

  charge(n: number): void {
    const before = this.steps;
    this.steps += n;
    if (this.steps > this.budget.maxSteps) {
      throw new LimitError('chat_template.max_steps', this.budget.maxSteps, `chat template: more than ${this.budget.maxSteps} evaluation steps (a runaway loop?)`);
    }
    if (before >>> 10 !== this.steps >>> 10 && performance.now() > this.deadline) {
      throw new LimitError('chat_template.max_time_ms', this.budget.maxTimeMs, `chat template: rendering took longer than ${this.budget.maxTimeMs} ms`);
    }
  }

  override evaluate(statement: Node, environment: Env): Value {
    this.charge(1);
    if (++this.depth > this.budget.maxDepth) {
      this.depth = 0;
      throw new LimitError('chat_template.max_depth', this.budget.maxDepth, `chat template: nesting deeper than ${this.budget.maxDepth} (runaway recursion?)`);
    }
    try {
      return this.checkSize(super.evaluate(statement, environment));
    } finally {
      this.depth = Math.max(0, this.depth - 1);
    }
  }

  override evaluateBlock(statements: Node[], environment: Env): Value {
    this.charge(1);
    const out = this.checkSize(super.evaluateBlock(statements, environment));
    this.emitted += (out.value as string).length;
    // Loops add their iterations' text together; count what every block emits so a loop that
    // repeats a large string is stopped while it runs, not when it returns.
    if (this.emitted > 16 * this.budget.maxOutputChars) this.tooLong(this.emitted);
    return out;
  }

  /**
   * Filters such as tojson(indent=N) and indent(width=N) build N-character strings before any
   * result reaches checkSize; an integer argument that large can only mean an oversized output.
   */
  override evaluateArguments(args: unknown[], environment: Env): Arguments {
    const out = super.evaluateArguments(args, environment);
    const [positional, keyword] = out;
    for (const a of [...positional, ...keyword.values()]) {
      if (typeof a.value === 'number' && a.value > this.budget.maxOutputChars && a.value > this.budget.maxItems) {
        throw new LimitError('chat_template.max_output_chars', this.budget.maxOutputChars, `chat template: argument ${a.value} exceeds the output limit of ${this.budget.maxOutputChars}`);
      }
    }
    return out;
  }

  private checkSize(v: Value): Value {
    const x = v.value as unknown;
    if (typeof x === 'string') {
      if (x.length > this.budget.maxOutputChars) this.tooLong(x.length);
    } else if (Array.isArray(x) && x.length > this.budget.maxItems) {
      throw new LimitError('chat_template.max_items', this.budget.maxItems, `chat template: a list of ${x.length} items exceeds ${this.budget.maxItems}`);
    }
    return v;
  }

  private tooLong(n: number): never {
    throw new LimitError('chat_template.max_output_chars', this.budget.maxOutputChars, `chat template: output of ${n} characters exceeds ${this.budget.maxOutputChars}`);
  }
}

/** Renders a compiled template with the budget; template errors are rethrown as they come. */
export function renderWithBudget(template: Template, vars: Record<string, unknown>, budget: TemplateBudget = DEFAULT_TEMPLATE_BUDGET): string {
  const env = new Environment();
  let interp: BudgetedInterpreter | undefined;
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (msg: unknown) => {
      throw new Error(String(msg));
    },
    range: (...args: number[]) => boundedRange(args, budget.maxItems, (n) => interp!.charge(n)),
    strftime_now: (format: unknown) => strftime(new Date(), String(format)),
  };
  for (const [k, v] of Object.entries({ ...globals, ...vars })) env.set(k, v);
  interp = new BudgetedInterpreter(env, budget);
  return interp.run(template.parsed).value as string;
}

/** Python's range(), refusing to build more than maxItems numbers. */
function boundedRange(args: number[], maxItems: number, charge: (n: number) => void): number[] {
  const [start, stop, step] = args.length === 1 ? [0, args[0], 1] : [args[0], args[1], args[2] ?? 1];
  if (![start, stop, step].every(Number.isInteger)) throw new Error('range() arguments must be integers');
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > maxItems) throw new LimitError('chat_template.max_items', maxItems, `chat template: range() of ${count} items exceeds ${maxItems}`);
  charge(count);
  return Array.from({ length: count }, (_, i) => start + i * step);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** The strftime codes chat templates use (Llama 3.x prints "%d %b %Y"); others stay literal. */
function strftime(d: Date, format: string): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const codes: Record<string, () => string> = {
    d: () => two(d.getDate()),
    e: () => String(d.getDate()),
    m: () => two(d.getMonth() + 1),
    Y: () => String(d.getFullYear()),
    y: () => two(d.getFullYear() % 100),
    b: () => MONTHS[d.getMonth()].slice(0, 3),
    B: () => MONTHS[d.getMonth()],
    a: () => DAYS[d.getDay()].slice(0, 3),
    A: () => DAYS[d.getDay()],
    H: () => two(d.getHours()),
    I: () => two(d.getHours() % 12 || 12),
    M: () => two(d.getMinutes()),
    S: () => two(d.getSeconds()),
    p: () => (d.getHours() < 12 ? 'AM' : 'PM'),
    '%': () => '%',
  };
  return format.replace(/%([a-zA-Z%])/g, (all, c: string) => codes[c]?.() ?? all);
}
