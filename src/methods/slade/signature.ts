// A small C signature parser for the IO harness: enough to drive functions whose parameters are
// scalars or pointers to scalar buffers (the ones SLaDe's IO examples cover too); anything else
// (structs, function pointers, void *, pointer-to-pointer) makes the function "not driveable".

export type Scalar = 'char' | 'signed char' | 'unsigned char' | 'short' | 'unsigned short' | 'int' | 'unsigned int' | 'long' | 'unsigned long' | 'long long' | 'unsigned long long' | 'float' | 'double' | '_Bool';

export interface CType {
  scalar: Scalar | 'void';
  pointer: boolean;
}

export interface Signature {
  name: string;
  ret: CType;
  params: CType[];
}

const CANON: Record<string, Scalar | 'void'> = {
  void: 'void', char: 'char', 'signed char': 'signed char', 'unsigned char': 'unsigned char',
  short: 'short', 'short int': 'short', 'signed short': 'short', 'unsigned short': 'unsigned short', 'unsigned short int': 'unsigned short',
  int: 'int', signed: 'int', 'signed int': 'int', unsigned: 'unsigned int', 'unsigned int': 'unsigned int',
  long: 'long', 'long int': 'long', 'signed long': 'long', 'unsigned long': 'unsigned long', 'unsigned long int': 'unsigned long',
  'long long': 'long long', 'long long int': 'long long', 'unsigned long long': 'unsigned long long',
  float: 'float', double: 'double', _Bool: '_Bool', bool: '_Bool',
  size_t: 'unsigned long', ssize_t: 'long', int8_t: 'signed char', uint8_t: 'unsigned char', int16_t: 'short', uint16_t: 'unsigned short',
  int32_t: 'int', uint32_t: 'unsigned int', int64_t: 'long', uint64_t: 'unsigned long',
  // Kernel uapi and BSD spellings, common in the installed headers the corpus reads.
  __u8: 'unsigned char', __s8: 'signed char', __u16: 'unsigned short', __s16: 'short', __u32: 'unsigned int', __s32: 'int',
  __u64: 'unsigned long long', __s64: 'long long', u_int8_t: 'unsigned char', u_int16_t: 'unsigned short', u_int32_t: 'unsigned int',
  u_int64_t: 'unsigned long', u_char: 'unsigned char', u_short: 'unsigned short', u_int: 'unsigned int', u_long: 'unsigned long',
  uint: 'unsigned int', ulong: 'unsigned long', ushort: 'unsigned short', 'long unsigned int': 'unsigned long', 'short unsigned int': 'unsigned short',
};

/** Parse "const unsigned char *p" / "int a[]" / "double x" into a CType, or undefined. */
export function parseType(decl: string, isParam: boolean, typedefs: Record<string, Scalar | 'void'> = {}): CType | undefined {
  let t = decl.replace(/\b(const|volatile|restrict|static|inline|extern|register|__restrict)\b/g, ' ').trim();
  let pointer = 0;
  if (isParam && /\[\s*\w*\s*\]\s*$/.test(t)) {
    pointer++;
    t = t.replace(/\[\s*\w*\s*\]\s*$/, '');
  }
  pointer += (t.match(/\*/g) ?? []).length;
  t = t.replace(/\*/g, ' ').replace(/\s+/g, ' ').trim();
  // Drop the declarator name (last word) when more than the type is there.
  const words = t.split(' ');
  const tryCanon = (w: string[]) => CANON[w.join(' ')] ?? (w.length === 1 ? typedefs[w[0]!] : undefined);
  let scalar = tryCanon(words);
  if (scalar === undefined && words.length > 1) scalar = tryCanon(words.slice(0, -1));
  if (scalar === undefined || pointer > 1) return undefined;
  if (scalar === 'void' && pointer > 0) return undefined;
  return { scalar, pointer: pointer === 1 };
}

/** The signature of the first function definition named `name` (or the last definition) in `source`. */
export function parseSignature(source: string, name?: string): Signature | undefined {
  const re = /(^|\n)([A-Za-z_][\w \t*]*?)\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*\{/g;
  // Scalar typedefs of the unit (`typedef unsigned long word;`, stubbed `typedef long T;`).
  const typedefs: Record<string, Scalar | 'void'> = {};
  for (const m of source.matchAll(/(?:^|\n)\s*typedef\s+([\w ]+?)\s+([A-Za-z_]\w*)\s*;/g)) {
    const t = CANON[m[1]!.trim().replace(/\s+/g, ' ')] ?? typedefs[m[1]!.trim()];
    if (t !== undefined && t !== 'void') typedefs[m[2]!] = t;
  }
  let found: Signature | undefined;
  for (const m of source.matchAll(re)) {
    const fname = m[3]!;
    if (['if', 'while', 'for', 'switch', 'return', 'sizeof'].includes(fname)) continue;
    if (name !== undefined && fname !== name) continue;
    const ret = parseType(m[2]!.trim(), false, typedefs);
    const plist = m[4]!.trim();
    const params = plist === '' || plist === 'void' ? [] : plist.split(',').map((p) => parseType(p.trim(), true, typedefs));
    if (!ret || params.some((p) => p === undefined)) {
      found = undefined;
      if (name !== undefined) return undefined;
      continue;
    }
    found = { name: fname, ret, params: params as CType[] };
    if (name !== undefined) return found;
  }
  return found;
}

export function typeText(t: CType): string {
  return `${t.scalar}${t.pointer ? ' *' : ''}`;
}
