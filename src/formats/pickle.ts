// A restricted unpickler for torch.save state dicts. It never imports or calls anything:
// GLOBAL opcodes resolve only against a fixed allowlist of names it understands (OrderedDict,
// torch's tensor-rebuild helpers, storage types); any other global is a FormatError naming it.
// Python values map to: None -> null, int -> number (bigint if huge), float -> number,
// str -> string, bytes -> Uint8Array, tuple/list -> array, dict/OrderedDict -> Map.
import { FormatError, LimitError } from '../errors.ts';
import type { CheckpointDType } from './dtypes.ts';
import { DEFAULT_PICKLE_LIMITS, type PickleLimits } from './limits.ts';

/** A `torch.*Storage` persistent id: ('storage', storage_type, key, location, numel). */
export class StorageRef {
  constructor(
    readonly dtype: CheckpointDType,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {}
}

/** The result of torch._utils._rebuild_tensor_v2: a view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified() { return `${this.module}.${this.name}`; }
}

const STORAGE_DTYPES: Record<string, CheckpointDType> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  '_codecs.encode',
]);

function resolveGlobal(file: string, module: string, name: string): PyGlobal {
  const g = new PyGlobal(module, name);
  if (CALLABLES.has(g.qualified) || (module === 'torch' && name in STORAGE_DTYPES)) return g;
  throw new FormatError(file, 'data.pkl', `refusing to load pickle global '${g.qualified}' (only torch tensor data is allowed)`);
}

const MARK = Symbol('mark');

/**
 * Unpickles `data`; `field` names the pickle in errors. The stack, the memo and every container
 * are bounded (limits.ts): 50M MARK opcodes in a 48 KB compressed pickle reached 1.3 GB first.
 */
export function unpickle(data: Uint8Array, file: string, field = 'data.pkl', limits: PickleLimits = DEFAULT_PICKLE_LIMITS): unknown {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (msg: string): never => {
    throw new FormatError(file, field, `${msg} (at byte ${p})`);
  };
  const over = (limit: keyof PickleLimits, what: string): never => {
    throw new LimitError(`pickle.${limit}`, limits[limit], `${file} [${field}]: ${what} exceeds the limit of ${limits[limit]} (at byte ${p})`);
  };
  const push = (x: unknown) => {
    if (stack.length >= limits.maxStack) over('maxStack', 'the unpickler stack');
    stack.push(x);
  };
  const remember = (k: number, x: unknown) => {
    if (memo.size >= limits.maxMemo && !memo.has(k)) over('maxMemo', 'the unpickler memo');
    memo.set(k, x);
  };
  const need = (n: number) => {
    if (n < 0 || p + n > data.length) fail('pickle ends early');
  };
  const u8 = () => { need(1); return data[p++]; };
  const u16 = () => { need(2); const x = v.getUint16(p, true); p += 2; return x; };
  const u32 = () => { need(4); const x = v.getUint32(p, true); p += 4; return x; };
  const i32 = () => { need(4); const x = v.getInt32(p, true); p += 4; return x; };
  const u64 = () => { need(8); const x = v.getBigUint64(p, true); p += 8; return x > BigInt(data.length) ? fail('absurd length') : Number(x); };
  const bytes = (n: number) => { need(n); const b = data.subarray(p, p + n); p += n; return b; };
  const utf8 = (n: number) => new TextDecoder().decode(bytes(n));
  const latin1 = (n: number) => {
    const b = bytes(n);
    let s = '';
    for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
    return s;
  };
  const line = () => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) fail('unterminated text line');
    const s = latin1(end - p);
    p++;
    return s;
  };
  const pop = () => (stack.length ? stack.pop() : fail('stack underflow'));
  const top = () => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = () => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no MARK on the stack');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM(S) on a non-dict');
    if (items.length % 2) fail('odd number of dict items');
    if ((target as Map<unknown, unknown>).size + items.length / 2 > limits.maxContainerItems) over('maxContainerItems', 'a dict');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) fail('APPEND(S) on a non-list');
    const list = target as unknown[];
    if (list.length + items.length > limits.maxContainerItems) over('maxContainerItems', 'a list');
    // One at a time: push(...items) with millions of items overflows the call stack.
    for (const x of items) list.push(x);
  };

  while (true) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        const result = pop();
        if (result === MARK) fail('MARK left as the result');
        return result;
      }
      case 0x28: push(MARK); break; // MARK
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push([]); break; // EMPTY_TUPLE
      case 0x74: push(popMark()); break; // TUPLE
      case 0x6c: push(popMark()); break; // LIST
      case 0x64: { const d = new Map(); setItems(d, popMark()); push(d); break; } // DICT
      case 0x85: push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push([a, b, c]); break; } // TUPLE3
      case 0x61: { const x = pop(); appendItems(top(), [x]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const val = pop(); const key = pop(); setItems(top(), [key, val]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(long(bytes(u8()))); break; // LONG1
      case 0x8b: { const n = i32(); if (n < 0 || n > 1024) fail('LONG4 length out of range'); push(long(bytes(n))); break; } // LONG4 (capped: decoding is quadratic)
      case 0x47: { need(8); push(v.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      case 0x58: push(utf8(u32())); break; // BINUNICODE
      case 0x8c: push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(utf8(u64())); break; // BINUNICODE8
      case 0x54: { const n = i32(); if (n < 0) fail('negative BINSTRING length'); push(latin1(n)); break; } // BINSTRING
      case 0x55: push(latin1(u8())); break; // SHORT_BINSTRING
      case 0x42: push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x63: { const mod = line(); const name = line(); push(resolveGlobal(file, mod, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const mod = pop();
        if (typeof mod !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(file, mod as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); push(call(fn, args, fail)); break; } // REDUCE
      case 0x62: { // BUILD: only the state of an OrderedDict (torch's `_metadata` attribute) is accepted and ignored
        pop();
        if (!(top() instanceof Map)) fail('BUILD on an object that is not a dict');
        break;
      }
      case 0x51: push(persistentLoad(pop(), fail)); break; // BINPERSID
      case 0x71: remember(u8(), top()); break; // BINPUT
      case 0x72: remember(u32(), top()); break; // LONG_BINPUT
      case 0x94: remember(memo.size, top()); break; // MEMOIZE
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(`memo ${k} missing`); push(memo.get(k)); break; } // BINGET
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(`memo ${k} missing`); push(memo.get(k)); break; } // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Little-endian two's-complement integer of any length. */
function long(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) x -= 1n << BigInt(8 * b.length);
  return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isIntTuple = (x: unknown): x is number[] => Array.isArray(x) && x.every((d) => isInt(d) && d >= 0);

function persistentLoad(pid: unknown, fail: (m: string) => never): StorageRef {
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') fail('persistent id is not a storage tuple');
  const [, type, key, location, numel] = pid as unknown[];
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) fail('persistent id names no storage type');
  if (typeof key !== 'string' || !/^[0-9A-Za-z_.-]+$/.test(key)) fail(`bad storage key ${JSON.stringify(key)}`);
  if (typeof location !== 'string') fail('storage location is not a string');
  if (!isInt(numel) || numel < 0) fail('storage size is not a non-negative integer');
  return new StorageRef(STORAGE_DTYPES[(type as PyGlobal).name], key as string, location as string, numel as number);
}

function call(fn: unknown, args: unknown, fail: (m: string) => never): unknown {
  if (!(fn instanceof PyGlobal) || !CALLABLES.has(fn.qualified)) fail('REDUCE on something that is not an allowed callable');
  if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
  const a = args as unknown[];
  switch ((fn as PyGlobal).qualified) {
    case 'collections.OrderedDict': {
      const d = new Map();
      if (a.length > 0) {
        if (!Array.isArray(a[0])) fail('OrderedDict argument is not a list of pairs');
        for (const pair of a[0] as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail('OrderedDict item is not a pair');
          d.set((pair as unknown[])[0], (pair as unknown[])[1]);
        }
      }
      return d;
    }
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = a;
      if (!(storage instanceof StorageRef)) fail('tensor storage is not a storage');
      if (!isInt(offset) || offset < 0) fail('tensor storage offset is not a non-negative integer');
      if (!isIntTuple(size) || !isIntTuple(stride) || size.length !== stride.length) fail('tensor size/stride are not matching integer tuples');
      return new TensorRef(storage as StorageRef, offset as number, [...(size as number[])], [...(stride as number[])]);
    }
    case 'torch._utils._rebuild_parameter': {
      if (!(a[0] instanceof TensorRef)) fail('parameter data is not a tensor');
      return a[0];
    }
    case '_codecs.encode': {
      if (typeof a[0] !== 'string') fail('_codecs.encode needs a string');
      return Uint8Array.from(a[0] as string, (ch) => ch.charCodeAt(0) & 0xff);
    }
  }
  return fail('unreachable');
}
