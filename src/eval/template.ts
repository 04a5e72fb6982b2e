// Jinja rendering the way lm-evaluation-harness renders doc_to_text / doc_to_target /
// doc_to_choice: the doc's fields are the variables, a trailing newline is kept, and a rendered
// list (`{{choices.text}}`) is parsed back as a Python literal. Runs on @huggingface/jinja, with
// the list methods lm-eval task files use (`.index(x)`, `.count(x)`) added to its arrays.
import { Environment, Template } from '@huggingface/jinja';
import { SlmError } from '../errors.ts';
import { pyRegex } from './pyregex.ts';

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

const cache = new Map<string, { template: Template; names: string[] }>();

/** lm-eval's one extra filter, `regex_replace(pattern, repl, count=0)` (re.sub), as a call. */
const REGEX_REPLACE = '__slmkit_regex_replace';

function regexReplace(s: unknown, pattern: string, repl: string, count = 0): string {
  const re = pyRegex(pattern);
  let n = 0;
  // Python's \1 / \g<name> back-references.
  return String(s).replace(re, (...m: unknown[]) => {
    if (count > 0 && n >= count) return m[0] as string;
    n++;
    const groups = m.slice(1, -2) as Array<string | undefined>;
    return repl.replace(/\\(\d+)|\\g<(\w+)>/g, (_x, d: string | undefined, name: string | undefined) => (d !== undefined ? (groups[Number(d) - 1] ?? '') : (((m.at(-1) as Record<string, string> | undefined)?.[name!]) ?? '')));
  });
}

/** The AST nodes under `n`: items of a list, keys and values of a Map (object literals), fields of a node. */
function children(n: unknown): unknown[] {
  if (Array.isArray(n)) return n;
  if (n instanceof Map) return [...n].flat();
  if (!n || typeof n !== 'object') return [];
  return Object.entries(n).filter(([k, v]) => k !== 'type' && v && typeof v === 'object').map(([, v]) => v);
}

const isNode = (n: unknown): n is Node => !!n && typeof n === 'object' && !Array.isArray(n) && !(n instanceof Map);

/** Rewrites `x | regex_replace(a, b)` into `__slmkit_regex_replace(x, a, b)` (this Jinja has no custom filters). */
function rewriteRegexReplace(n: unknown): void {
  children(n).forEach(rewriteRegexReplace);
  if (!isNode(n)) return;
  const node = n;
  if (node.type !== 'FilterExpression') return;
  const f = node.filter as Node;
  const name = f.type === 'CallExpression' ? (f.callee as Node).value : f.value;
  if (name !== 'regex_replace') return;
  node.type = 'CallExpression';
  node.callee = { type: 'Identifier', value: REGEX_REPLACE };
  node.args = [node.operand, ...((f.args as unknown[] | undefined) ?? [])];
  delete node.operand;
  delete node.filter;
}

/** Globals a template may use without the document defining them. */
const GLOBALS = new Set([REGEX_REPLACE, 'range', 'namespace', 'loop', 'true', 'false', 'none', 'True', 'False', 'None', 'raise_exception', 'strftime_now', 'dict', 'cycler', 'joiner', 'caller', 'varargs', 'kwargs']);

type Node = { type?: string; [k: string]: unknown };

/**
 * The free variables a template reads (lm-eval renders with StrictUndefined, so a name the
 * document lacks is an error, not an empty string). Attribute names, filter and test names,
 * keyword names, names the template assigns (for/set/macro) and `x is defined` operands are not.
 */
function freeNames(root: Node): string[] {
  const used = new Set<string>();
  const bound = new Set<string>();
  const bind = (n: unknown) => {
    const node = n as Node;
    if (node?.type === 'Identifier') bound.add(node.value as string);
    else if (Array.isArray(node?.value)) node.value.forEach(bind);
  };
  const walk = (n: unknown): void => {
    if (!isNode(n)) return children(n).forEach(walk);
    const node = n;
    switch (node.type) {
      case 'Identifier':
        used.add(node.value as string);
        return;
      case 'MemberExpression':
        walk(node.object);
        if (node.computed) walk(node.property);
        return;
      case 'FilterExpression':
        walk(node.operand);
        if ((node.filter as Node).type === 'CallExpression') walk((node.filter as Node).args);
        return;
      case 'TestExpression':
        if (!['defined', 'undefined'].includes((node.test as Node).value as string)) walk(node.operand);
        return;
      case 'FilterStatement':
        if ((node.filter as Node).type === 'CallExpression') walk((node.filter as Node).args);
        walk(node.body);
        return;
      case 'KeywordArgumentExpression':
        walk(node.value);
        return;
      case 'For':
        bind(node.loopvar);
        walk(node.iterable);
        walk(node.body);
        walk(node.defaultBlock);
        return;
      case 'Set':
        bind(node.assignee);
        walk(node.value);
        walk(node.body);
        return;
      case 'Macro':
        bind(node.name);
        for (const a of (node.args ?? []) as Node[]) bind(a.type === 'KeywordArgumentExpression' ? a.key : a);
        walk(node.body);
        return;
      default:
        children(node).forEach(walk);
    }
  };
  walk(root);
  return [...used].filter((n) => !bound.has(n) && !GLOBALS.has(n));
}

/** Renders `source` with the doc's fields as variables. */
export function renderTemplate(source: string, doc: Record<string, unknown>, where: string): string {
  patchArrays();
  let t = cache.get(source);
  try {
    if (!t) {
      const template = new Template(source);
      rewriteRegexReplace(template.parsed);
      t = { template, names: freeNames(template.parsed as unknown as Node) };
      cache.set(source, t);
    }
    const missing = t.names.filter((n) => !(n in doc));
    if (missing.length) throw new Error(`'${missing.join("', '")}' is undefined (the document's fields: ${Object.keys(doc).join(', ')})`);
    let out = t.template.render({ ...doc, [REGEX_REPLACE]: regexReplace });
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
