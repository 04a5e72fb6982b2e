// The practical JSON-Schema subset constrained decoding supports, normalised into a small tree.
// Unsupported keywords are rejected by name rather than ignored: output that silently breaks a
// schema is the complaint users have with other servers (ollama#8063).
import { LimitError, SlmError } from '../../errors.ts';

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';
const KINDS: ReadonlySet<string> = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

export interface SchemaNode {
  /** Allowed types; undefined = any JSON value. */
  types?: ReadonlySet<JsonKind>;
  properties: ReadonlyMap<string, SchemaNode>;
  required: ReadonlySet<string>;
  /** false = no other keys; a node = schema for other keys. */
  additional: SchemaNode | false;
  items: SchemaNode;
  minItems: number;
  maxItems: number;
  /** Allowed values (enum/const) as canonical JSON text. */
  enumJson?: readonly string[];
}

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples', '$comment']);
const SUPPORTED = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'minItems', 'maxItems']);

export class UnsupportedSchemaError extends SlmError {
  constructor(
    message: string,
    readonly keywords: string[] = [],
  ) {
    super('INVALID_ARGUMENT', message);
    this.name = 'UnsupportedSchemaError';
  }
}

export function anyNode(): SchemaNode {
  const n: SchemaNode = {
    properties: new Map(),
    required: new Set(),
    additional: false,
    items: undefined as unknown as SchemaNode,
    minItems: 0,
    maxItems: Infinity,
  };
  n.additional = n;
  (n as { items: SchemaNode }).items = n;
  return n;
}

/** Throws UnsupportedSchemaError naming every unsupported keyword (with its path). */
export function compileSchema(schema: unknown): SchemaNode {
  const unsupported: string[] = [];
  const node = compile(schema, '#', unsupported);
  if (unsupported.length) {
    throw new UnsupportedSchemaError(`unsupported JSON schema keyword(s): ${unsupported.join(', ')}`, unsupported);
  }
  return node;
}

/** Bounds on schemas from requests (docs/limits.md). */
export interface SchemaLimits {
  /** Nesting depth (properties / items / additionalProperties levels). */
  maxDepth: number;
  /** The schema as JSON text, in characters. */
  maxChars: number;
  /** Total size of the compiled-schema cache, counted as the schemas' JSON text (x4 for the tree). */
  maxCacheBytes: number;
  /** Entries in the compiled-schema cache. */
  maxCacheEntries: number;
}

export const DEFAULT_SCHEMA_LIMITS: Readonly<SchemaLimits> = Object.freeze({
  maxDepth: 64,
  maxChars: 256 * 1024,
  maxCacheBytes: 32 * 1024 * 1024,
  maxCacheEntries: 64,
});

/** A compiled tree costs a few times its JSON text (maps, sets, enum strings); used for the cache budget. */
const TREE_BYTES_PER_CHAR = 4;

const compiledByText = new Map<string, { node: SchemaNode; bytes: number }>();
let cachedBytes = 0;

/** Bytes the compiled-schema cache holds now (by the estimate above; for tests and stats). */
export function schemaCacheBytes(): number {
  return cachedBytes;
}

/**
 * compileSchema, returning the same SchemaNode object for the same schema text. Token masks are
 * memoised by recogniser state, and states name schema nodes by identity, so requests that send
 * the same schema share masks only when they share the compiled tree (token-mask.ts).
 * The schema's size and depth are checked first (LimitError); the cache is an LRU bounded by
 * entries and by bytes.
 */
export function compileSchemaCached(schema: unknown, limits: SchemaLimits = DEFAULT_SCHEMA_LIMITS): SchemaNode {
  checkSchemaDepth(schema, limits.maxDepth);
  const key = JSON.stringify(schema) ?? 'undefined';
  if (key.length > limits.maxChars) {
    throw new LimitError('json_schema.max_chars', limits.maxChars, `the JSON schema is ${key.length} characters; at most ${limits.maxChars} are accepted`);
  }
  const hit = compiledByText.get(key);
  if (hit) {
    // Refresh its place in the LRU order.
    compiledByText.delete(key);
    compiledByText.set(key, hit);
    return hit.node;
  }
  const node = compileSchema(schema);
  const bytes = key.length * (2 + TREE_BYTES_PER_CHAR);
  if (bytes > limits.maxCacheBytes) return node; // too big to keep: compiled per request
  while (compiledByText.size && (compiledByText.size >= limits.maxCacheEntries || cachedBytes + bytes > limits.maxCacheBytes)) {
    const [oldest, entry] = compiledByText.entries().next().value!;
    compiledByText.delete(oldest);
    cachedBytes -= entry.bytes;
  }
  compiledByText.set(key, { node, bytes });
  cachedBytes += bytes;
  return node;
}

/**
 * Depth of nested objects/arrays in the schema value, without recursion (a 2,500-level schema
 * overflowed the stack in compile and JSON.stringify and came back as a 500).
 */
export function checkSchemaDepth(schema: unknown, maxDepth: number): void {
  // The schema JSON nests two value levels per schema level (properties -> name -> schema).
  const maxValueDepth = 2 * maxDepth + 2;
  const stack: Array<[unknown, number]> = [[schema, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > maxValueDepth) {
      throw new LimitError('json_schema.max_depth', maxDepth, `the JSON schema nests deeper than ${maxDepth} levels`);
    }
    for (const c of Array.isArray(v) ? v : Object.values(v)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
}

function compile(schema: unknown, path: string, unsupported: string[]): SchemaNode {
  if (schema === true || (isObject(schema) && Object.keys(schema).every((k) => ANNOTATIONS.has(k)))) return anyNode();
  if (!isObject(schema)) throw new UnsupportedSchemaError(`${path}: a schema must be an object or true`);
  for (const k of Object.keys(schema)) {
    if (!SUPPORTED.has(k) && !ANNOTATIONS.has(k)) unsupported.push(`${k} (at ${path})`);
  }
  const s = schema as Record<string, unknown>;
  const node = anyNode();
  const mut = node as { -readonly [K in keyof SchemaNode]: SchemaNode[K] };
  if (s.type !== undefined) {
    const list = Array.isArray(s.type) ? s.type : [s.type];
    if (list.length === 0 || !list.every((t) => typeof t === 'string' && KINDS.has(t))) {
      throw new UnsupportedSchemaError(`${path}/type: must be one of ${[...KINDS].join(', ')} (or a list of them)`);
    }
    mut.types = new Set(list as JsonKind[]);
  }
  if (s.enum !== undefined || s.const !== undefined) {
    if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.length === 0)) throw new UnsupportedSchemaError(`${path}/enum: must be a non-empty array`);
    const values = s.const !== undefined ? [s.const] : (s.enum as unknown[]);
    mut.enumJson = values.map((v) => JSON.stringify(v));
    if (mut.types) {
      const bad = values.filter((v) => !mut.types!.has(kindOf(v)) && !(kindOf(v) === 'integer' && mut.types!.has('number')));
      if (bad.length) throw new UnsupportedSchemaError(`${path}/enum: value ${JSON.stringify(bad[0])} does not match the type`);
    }
  }
  const props = new Map<string, SchemaNode>();
  if (s.properties !== undefined) {
    if (!isObject(s.properties)) throw new UnsupportedSchemaError(`${path}/properties: must be an object`);
    for (const [name, sub] of Object.entries(s.properties)) props.set(name, compile(sub, `${path}/properties/${name}`, unsupported));
  }
  mut.properties = props;
  if (s.required !== undefined) {
    if (!Array.isArray(s.required) || !s.required.every((r) => typeof r === 'string')) throw new UnsupportedSchemaError(`${path}/required: must be an array of strings`);
    mut.required = new Set(s.required as string[]);
  }
  if (s.additionalProperties === false) mut.additional = false;
  else if (s.additionalProperties === undefined || s.additionalProperties === true) mut.additional = anyNode();
  else mut.additional = compile(s.additionalProperties, `${path}/additionalProperties`, unsupported);
  if (mut.additional === false) {
    for (const r of mut.required) if (!props.has(r)) throw new UnsupportedSchemaError(`${path}/required: "${r}" is required but not allowed by properties with additionalProperties false`);
  }
  mut.items = s.items === undefined ? anyNode() : compile(s.items, `${path}/items`, unsupported);
  for (const k of ['minItems', 'maxItems'] as const) {
    const v = s[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || (v as number) < 0) throw new UnsupportedSchemaError(`${path}/${k}: must be a non-negative integer`);
    mut[k] = v as number;
  }
  if (mut.minItems > mut.maxItems) throw new UnsupportedSchemaError(`${path}: minItems exceeds maxItems`);
  return node;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): JsonKind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonKind;
}

/** Full validation of a parsed value (the oracle for tests and a last check in the server). */
export function validateValue(value: unknown, node: SchemaNode, path = '$'): string | undefined {
  if (node.enumJson && !node.enumJson.includes(JSON.stringify(value))) return `${path}: not one of the allowed values`;
  if (node.types) {
    const k = kindOf(value);
    const ok = node.types.has(k) || (k === 'integer' && node.types.has('number'));
    if (!ok) return `${path}: expected ${[...node.types].join('|')}, got ${k}`;
  }
  if (Array.isArray(value)) {
    if (value.length < node.minItems || value.length > node.maxItems) return `${path}: array length ${value.length} outside [${node.minItems}, ${node.maxItems}]`;
    for (let i = 0; i < value.length; i++) {
      const err = validateValue(value[i], node.items, `${path}[${i}]`);
      if (err) return err;
    }
  } else if (isObject(value)) {
    for (const r of node.required) if (!(r in value)) return `${path}: missing required property "${r}"`;
    for (const [k, v] of Object.entries(value)) {
      const sub = node.properties.get(k) ?? node.additional;
      if (sub === false) return `${path}: property "${k}" is not allowed`;
      const err = validateValue(v, sub, `${path}.${k}`);
      if (err) return err;
    }
  }
  return undefined;
}
