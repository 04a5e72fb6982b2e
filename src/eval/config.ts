// Reading lm-evaluation-harness task files: YAML with `!function module.name` tags, `include:`
// of base files (resolved against the including file's folder, merged shallowly, own keys win),
// and the index lm-eval builds over folders of them: tasks (have `task`), groups (have `group`:
// a `task:` list plus `aggregate_metric_list`) and tags (a task's `tag:` names it into a flat set).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { parseDocument, type Tags } from 'yaml';
import { FormatError, SlmError } from '../errors.ts';

/** A `!function utils.process_docs` value: Python code lm-eval would import. */
export interface PyFunctionRef {
  readonly __function__: string;
}

export function isFunctionRef(v: unknown): v is PyFunctionRef {
  return typeof v === 'object' && v !== null && typeof (v as PyFunctionRef).__function__ === 'string';
}

export type RawConfig = Record<string, unknown>;

const functionTag: Tags[number] = {
  tag: '!function',
  resolve: (value: string) => ({ __function__: value }),
};

function parseYamlFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SlmError('NOT_FOUND', `task file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`);
  }
  const doc = parseDocument(text, { customTags: [functionTag], uniqueKeys: false });
  if (doc.errors.length) throw new FormatError(path, undefined, `invalid YAML: ${doc.errors[0]!.message}`);
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new FormatError(path, undefined, 'a task file must be a YAML mapping');
  return value as RawConfig;
}

/**
 * A task file with its `include:` chain merged in. `__dir__` keeps the folder of the file the
 * config came from (data files and `!function` modules are found next to it).
 */
export function loadTaskYaml(path: string, seen: string[] = []): RawConfig {
  const abs = resolve(path);
  if (seen.includes(abs)) throw new FormatError(abs, 'include', `include cycle: ${[...seen, abs].join(' -> ')}`);
  const own = parseYamlFile(abs);
  const includes = own.include === undefined ? [] : Array.isArray(own.include) ? own.include : [own.include];
  let merged: RawConfig = {};
  for (const inc of includes) {
    if (typeof inc !== 'string') throw new FormatError(abs, 'include', 'include must be a path or a list of paths');
    const base = loadTaskYaml(resolve(dirname(abs), inc), [...seen, abs]);
    delete base.task_list;
    merged = { ...merged, ...base };
  }
  const { include: _drop, ...rest } = own;
  return { ...merged, ...rest, __dir__: dirname(abs), __file__: abs };
}

export interface TaskEntry {
  kind: 'task';
  name: string;
  path: string;
  config: RawConfig;
}
export interface GroupEntry {
  kind: 'group';
  name: string;
  path: string;
  config: RawConfig;
}

/** The tasks, groups and tags found under some folders (later folders override earlier). */
export class TaskIndex {
  readonly tasks = new Map<string, TaskEntry>();
  readonly groups = new Map<string, GroupEntry>();
  readonly tags = new Map<string, string[]>();

  constructor(readonly dirs: readonly string[]) {
    for (const d of dirs) this.scan(resolve(d));
  }

  private scan(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      throw new SlmError('NOT_FOUND', `task folder ${dir} does not exist`);
    }
    for (const n of names) {
      const p = join(dir, n);
      const st = statSync(p);
      if (st.isDirectory()) this.scan(p);
      else if (extname(n) === '.yaml' || extname(n) === '.yml') this.add(p);
    }
  }

  /** Registers one file; returns the task or group name it defines (undefined for base files). */
  add(path: string): string | undefined {
    const cfg = loadTaskYaml(path);
    if ('class' in cfg) throw new SlmError('UNSUPPORTED', `${path}: Python task classes ('class:') cannot run in slmkit`);
    if (typeof cfg.group === 'string' && Array.isArray(cfg.task)) {
      this.groups.set(cfg.group, { kind: 'group', name: cfg.group, path, config: cfg });
      return cfg.group;
    }
    if (typeof cfg.group === 'string' && typeof cfg.task === 'string') {
      throw new FormatError(path, 'group', "a task file must name its collection with 'tag:', not 'group:' (lm-eval 0.4 reads a file with 'group:' as a group)");
    }
    if (typeof cfg.task !== 'string') return undefined;
    this.tasks.set(cfg.task, { kind: 'task', name: cfg.task, path, config: cfg });
    const tags = cfg.tag === undefined ? [] : Array.isArray(cfg.tag) ? cfg.tag : [cfg.tag];
    for (const t of tags) {
      if (typeof t !== 'string') continue;
      const list = this.tags.get(t) ?? [];
      if (!list.includes(cfg.task)) list.push(cfg.task);
      this.tags.set(t, list);
    }
    return cfg.task;
  }

  names(): string[] {
    return [...this.tasks.keys(), ...this.groups.keys(), ...this.tags.keys()].sort();
  }
}

/** One task to run: its merged config, plus overrides from the groups that asked for it. */
export interface ResolvedTask {
  name: string;
  config: RawConfig;
}

/** A group to aggregate after its tasks ran. */
export interface ResolvedGroup {
  name: string;
  config: RawConfig;
  /** Leaf tasks (tags and nested groups flattened). */
  tasks: string[];
}

export interface Selection {
  tasks: ResolvedTask[];
  groups: ResolvedGroup[];
}

const GROUP_KEYS = new Set(['group', 'group_alias', 'task', 'aggregate_metric_list', 'metadata', '__dir__', '__file__']);

/** Expands task, tag and group names (or YAML paths) into tasks to run and groups to aggregate. */
export function resolveSelection(index: TaskIndex, names: readonly string[]): Selection {
  const out: Selection = { tasks: [], groups: [] };
  const add = (name: string, overrides: RawConfig, trail: string[]): string[] => {
    if (trail.includes(name)) throw new SlmError('INVALID_ARGUMENT', `group cycle: ${[...trail, name].join(' -> ')}`);
    const t = index.tasks.get(name);
    if (t) {
      if (out.tasks.some((x) => x.name === name)) throw new SlmError('INVALID_ARGUMENT', `Duplicate task '${name}' (asked for directly and through a group, or twice)`);
      out.tasks.push({ name, config: { ...t.config, ...overrides } });
      return [name];
    }
    const tag = index.tags.get(name);
    if (tag) return tag.flatMap((n) => add(n, overrides, [...trail, name]));
    const g = index.groups.get(name);
    if (g) {
      const groupOverrides: RawConfig = { ...overrides };
      for (const [k, v] of Object.entries(g.config)) if (!GROUP_KEYS.has(k)) groupOverrides[k] = v;
      const leaves: string[] = [];
      for (const item of g.config.task as unknown[]) {
        if (typeof item === 'string') leaves.push(...add(item, groupOverrides, [...trail, name]));
        else if (item && typeof item === 'object' && typeof (item as RawConfig).task === 'string') {
          const { task, ...itemOverrides } = item as RawConfig;
          const tname = task as string;
          if (index.tasks.has(tname) || index.tags.has(tname) || index.groups.has(tname)) leaves.push(...add(tname, { ...groupOverrides, ...itemOverrides }, [...trail, name]));
          else {
            // An inline task definition inside the group file.
            const inlineName = `${name}::${tname}`;
            out.tasks.push({ name: tname, config: { ...groupOverrides, ...itemOverrides, task: tname, __dir__: g.config.__dir__, __file__: g.config.__file__, __inline__: inlineName } });
            leaves.push(tname);
          }
        } else throw new FormatError(g.path, 'task', `unsupported group item ${JSON.stringify(item)}`);
      }
      if (g.config.aggregate_metric_list !== undefined) out.groups.push({ name, config: g.config, tasks: leaves });
      return leaves;
    }
    throw new SlmError('NOT_FOUND', `no task, group or tag named '${name}' (searched ${index.dirs.join(', ')}; \`slm eval --list\` prints what is there)`);
  };
  for (const n of names) {
    if (/\.ya?ml$/.test(n)) {
      const defined = index.add(n);
      if (!defined) throw new FormatError(n, 'task', "the file defines no 'task' or 'group'");
      add(defined, {}, []);
    } else add(n, {}, []);
  }
  return out;
}
