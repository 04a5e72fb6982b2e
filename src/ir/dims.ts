// Dimensions: a number, or a symbolic expression such as "batch", "past+seq".
//
// Symbolic dims let one graph serve every batch size and sequence length. We only
// need sums of named symbols and constants (a KV cache grows past+seq), so a symbolic
// dim is kept in a canonical string form: terms sorted, e.g. "past+seq+1".

export type Dim = number | string;
export type Shape = Dim[];

interface Linear {
  terms: Map<string, number>;
  constant: number;
}

function parse(d: Dim): Linear {
  if (typeof d === 'number') return { terms: new Map(), constant: d };
  const terms = new Map<string, number>();
  let constant = 0;
  for (const raw of d.replace(/\s+/g, '').replace(/-/g, '+-').split('+')) {
    if (raw === '') continue;
    const neg = raw.startsWith('-');
    const body = neg ? raw.slice(1) : raw;
    const sign = neg ? -1 : 1;
    if (/^\d+$/.test(body)) constant += sign * Number(body);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(body)) terms.set(body, (terms.get(body) ?? 0) + sign);
    else throw new Error(`invalid symbolic dim '${d}'`);
  }
  return { terms, constant };
}

function format(l: Linear): Dim {
  const names = [...l.terms.entries()].filter(([, c]) => c !== 0).sort(([a], [b]) => (a < b ? -1 : 1));
  if (names.length === 0) return l.constant;
  const parts: string[] = [];
  for (const [n, c] of names) {
    const mag = Math.abs(c);
    const term = mag === 1 ? n : Array(mag).fill(n).join('+');
    parts.push(c < 0 ? `-${term.split('+').join('-')}` : term);
  }
  let s = parts.join('+').replace(/\+-/g, '-');
  if (l.constant > 0) s += `+${l.constant}`;
  else if (l.constant < 0) s += `${l.constant}`;
  return s;
}

/** Canonical form of a dim (so "seq+past" and "past+seq" compare equal). */
export function canonicalDim(d: Dim): Dim {
  return typeof d === 'number' ? d : format(parse(d));
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const la = parse(a);
  const lb = parse(b);
  for (const [n, c] of lb.terms) la.terms.set(n, (la.terms.get(n) ?? 0) + c);
  la.constant += lb.constant;
  return format(la);
}

/** True when two dims are provably equal; `undefined` when it cannot be known statically. */
export function dimsEqual(a: Dim, b: Dim): boolean | undefined {
  const ca = canonicalDim(a);
  const cb = canonicalDim(b);
  if (ca === cb) return true;
  if (typeof ca === 'number' && typeof cb === 'number') return false;
  return undefined;
}

/** Dims that are provably different (so a build-time error is warranted). */
export function dimsConflict(a: Dim, b: Dim): boolean {
  return dimsEqual(a, b) === false;
}

export function isStatic(shape: Shape): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Product of dims when all are numbers, else undefined. */
export function numel(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/** Resolves symbolic dims against concrete values of their symbols. */
export function resolveDim(d: Dim, env: Record<string, number>): number {
  if (typeof d === 'number') return d;
  const l = parse(d);
  let v = l.constant;
  for (const [n, c] of l.terms) {
    const x = env[n];
    if (x === undefined) throw new Error(`symbolic dim '${n}' has no value`);
    v += c * x;
  }
  return v;
}

/** Numpy broadcasting of two shapes; returns undefined when provably incompatible. */
export function broadcastShapes(a: Shape, b: Shape): Shape | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (dimsConflict(da, db)) return undefined;
    else out.push(typeof da === 'number' ? da : db === da ? da : typeof db === 'number' ? db : da);
  }
  return out;
}
