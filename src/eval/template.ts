// Jinja rendering the way lm-evaluation-harness renders doc_to_text / doc_to_target /
// doc_to_choice: the doc's fields are the variables, a trailing newline is kept, and a rendered
// list (`{{choices.text}}`) is parsed back as a Python literal. Runs on @huggingface/jinja, with
// the list methods lm-eval task files use (`.index(x)`, `.count(x)`) added to its arrays.
import { Environment, Template } from '@huggingface/jinja';
import { SlmError } from '../errors.ts';

let patched = false;

/** Adds Python's list.index / list.count to @huggingface/jinja arrays (ARC's `choices.label.index(answerKey)`). */
function patchArrays(): void {
  if (patched) return;
  patched = true;
  const env = new Environment();
  env.set('a', []);
  env.set('f', () => null);
  const arrayProto = Object.getPrototypeOf(env.lookupVariable('a')) as object;
  const FunctionValue = (env.lookupVariable('f') as object).constructor as new (fn: (args: Array<{ value: unknown }>) => unknown) => unknown;
  env.set('i', 0);
  const IntegerValue = (env.lookupVariable('i') as object).constructor as new (n: number) => unknown;
  const toRuntime = (n: number) => new IntegerValue(n);
  const desc = Object.getOwnPropertyDescriptor(arrayProto, 'builtins');
  if (!desc?.get) return;
  const original = desc.get;
  Object.defineProperty(arrayProto, 'builtins', {
    configurable: true,
    get(this: { value: Array<{ value: unknown }> }) {
      const map = original.call(this) as Map<string, unknown>;
      if (!map.has('index')) {
        const items = this.value.map((v) => v.value);
        map.set(
          'index',
          new FunctionValue((args) => {
            const i = items.indexOf(args[0]?.value);
            if (i < 0) throw new SlmError('INVALID_ARGUMENT', `${JSON.stringify(args[0]?.value)} is not in list`);
            return toRuntime(i);
          }),
        );
        map.set('count', new FunctionValue((args) => toRuntime(items.filter((x) => x === args[0]?.value).length)));
      }
      return map;
    },
  });
}

const cache = new Map<string, Template>();

/** Renders `source` with the doc's fields as variables. */
export function renderTemplate(source: string, doc: Record<string, unknown>, where: string): string {
  patchArrays();
  let t = cache.get(source);
  try {
    if (!t) {
      t = new Template(source);
      cache.set(source, t);
    }
    let out = t.render(doc);
    // lm-eval's environment has keep_trailing_newline=True; this Jinja drops the template's last newline.
    if (source.endsWith('\n')) out += '\n';
    return out;
  } catch (e) {
    throw new SlmError('INVALID_ARGUMENT', `${where}: template ${JSON.stringify(source.slice(0, 80))} failed: ${(e as Error).message}`);
  }
}

/**
 * Parses a Python literal as lm-eval's `ast.literal_eval` would for choice lists and list
 * targets: lists/tuples of strings, numbers, booleans, None. Returns undefined when `text` is
 * not such a literal. Accepts JSON too (what @huggingface/jinja prints for a list).
 */
export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const s = text.trim();
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (): never => {
    throw new Error('not a literal');
  };
  const str = (): string => {
    const q = s[i++]!;
    let out = '';
    while (i < s.length && s[i] !== q) {
      if (s[i] === '\\') {
        i++;
        const c = s[i++];
        const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        if (c === 'u' || c === 'x') {
          const len = c === 'u' ? 4 : 2;
          out += String.fromCharCode(parseInt(s.slice(i, i + len), 16));
          i += len;
        } else out += esc[c!] ?? `\\${c}`;
      } else out += s[i++];
    }
    if (s[i] !== q) fail();
    i++;
    return out;
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      ws();
      while (s[i] !== close) {
        out.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          ws();
        } else if (s[i] !== close) fail();
      }
      i++;
      return out;
    }
    if (c === "'" || c === '"') return str();
    const m = /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|True|False|None|true|false|null)/.exec(s.slice(i));
    if (!m) fail();
    i += m![0].length;
    const w = m![0];
    if (w === 'True' || w === 'true') return true;
    if (w === 'False' || w === 'false') return false;
    if (w === 'None' || w === 'null') return null;
    return Number(w);
  };
  try {
    const v = value();
    ws();
    return i === s.length ? v : undefined;
  } catch {
    return undefined;
  }
}
