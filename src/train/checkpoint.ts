// Training checkpoints: <out>/checkpoint-<step>/ holding
//   model.safetensors (full training) or adapter_model.safetensors + adapter_config.json (LoRA),
//     Hugging Face / PEFT names, in the training dtype so a resume is exact;
//   optimizer.safetensors: m.<name>, v.<name>;
//   trainer_state.json: step, data iterator state, RNG state, config hash (written last).
//
// Crash safety: everything is written into <out>/.tmp-checkpoint-<step>-<pid>-<rand>/, each
// file fsynced, the folder fsynced, then renamed to checkpoint-<step> and the parent fsynced.
// A kill at any point leaves either the old set of checkpoints or the new one, plus at worst a
// temp folder that the next run removes (cleanStaleCheckpointTemps) and that no reader
// considers (only checkpoint-<n> with a parseable trainer_state.json counts).
// Replacing an existing checkpoint-<step> moves it to .trash-checkpoint-<step>-… first (rename
// cannot replace a non-empty folder); a kill between that rename and the next leaves no
// checkpoint-<step>, so start-up renames such a trash folder back before anything is deleted.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeSafetensors, type TensorToWrite } from '../formats/safetensors-writer.ts';
import { openSafetensors } from '../formats/safetensors.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { BatchIteratorState } from '../data/packing.ts';
import type { RngState } from '../util/rng.ts';
import { FormatError, SlmError } from '../errors.ts';
import type { FloatArray, TrainDType } from './buffers.ts';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const CHECKPOINT_RE = /^checkpoint-(\d+)$/;
const TEMP_PREFIXES = ['.tmp-checkpoint-', '.trash-checkpoint-'];
const TRASH_RE = /^\.trash-checkpoint-(\d+)-/;
/** util/atomic-file.ts tempPathFor names: .<file>.<pid>.<8 hex>.tmp (final model, metrics, svg ...). */
const ATOMIC_TEMP_RE = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

export interface TrainerState {
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  tokensSeen: number;
  /** Wall seconds spent training so far (for ETA and tokens/s across resumes). */
  elapsedSeconds: number;
  iterator: unknown;
  rng: RngState;
  /** sha256 of the config keys that determine the trajectory. */
  configHash: string;
  /** Those keys, so a mismatch can name what changed. */
  config: Record<string, unknown>;
  dtype: TrainDType;
  lastLoss?: number;
  lastEvalLoss?: number;
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: FloatArray;
}

export interface CheckpointContent {
  /** The weights file (model.safetensors or adapter_model.safetensors) and its tensors by file name. */
  weightsFile: string;
  weights: NamedArray[];
  /** Extra JSON files (adapter_config.json, config.json). */
  json?: Record<string, unknown>;
  /** Writes other files (the tokenizer) into the checkpoint's temp folder, so checkpoint-<step>/ loads as a model. */
  writeExtra?: (dir: string) => void;
  m: NamedArray[];
  v: NamedArray[];
  state: TrainerState;
}

export interface WriteCheckpointOptions {
  /** Keep only the newest `keep` checkpoints (0 or undefined: keep all). */
  keep?: number;
  /** Called after each file is complete inside the temp folder (tests use it to crash mid-write). */
  onFileWritten?: (file: string) => void | Promise<void>;
}

const stDType = (d: FloatArray) => (d instanceof Float64Array ? 'F64' : 'F32');
const toWrite = (prefix: string, xs: NamedArray[]): TensorToWrite[] => xs.map((t) => ({ name: prefix + t.name, dtype: stDType(t.data), shape: t.shape, data: t.data }));

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function checkpointDir(outDir: string, step: number): string {
  return join(outDir, `checkpoint-${step}`);
}

/** Writes checkpoint-<step> atomically and prunes old ones; returns its path. */
export async function writeCheckpoint(outDir: string, c: CheckpointContent, o: WriteCheckpointOptions = {}): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const step = c.state.step;
  const tmp = join(outDir, `.tmp-checkpoint-${step}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    await writeSafetensors(join(tmp, c.weightsFile), toWrite('', c.weights), { format: 'pt' });
    await o.onFileWritten?.(c.weightsFile);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), [...toWrite('m.', c.m), ...toWrite('v.', c.v)], { format: 'pt', step: String(step) });
    await o.onFileWritten?.(OPTIMIZER_FILE);
    for (const [name, value] of Object.entries(c.json ?? {})) {
      writeFileAtomic(join(tmp, name), JSON.stringify(value, null, 2) + '\n');
      await o.onFileWritten?.(name);
    }
    if (c.writeExtra) {
      c.writeExtra(tmp);
      await o.onFileWritten?.('extra');
    }
    writeFileAtomic(join(tmp, TRAINER_STATE_FILE), JSON.stringify(c.state, null, 2) + '\n');
    await o.onFileWritten?.(TRAINER_STATE_FILE);
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const final = checkpointDir(outDir, step);
  if (existsSync(final)) {
    // rename() cannot replace a non-empty folder: move the old one aside first.
    const trash = join(outDir, `.trash-checkpoint-${step}-${process.pid}-${randomBytes(4).toString('hex')}`);
    renameSync(final, trash);
    renameSync(tmp, final);
    rmSync(trash, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  fsyncDir(outDir);
  if (o.keep && o.keep > 0) pruneCheckpoints(outDir, o.keep);
  return final;
}

/** Complete checkpoints in `outDir`, oldest first. */
export function listCheckpoints(outDir: string): { step: number; dir: string }[] {
  if (!existsSync(outDir)) return [];
  const out: { step: number; dir: string }[] = [];
  for (const name of readdirSync(outDir)) {
    const m = CHECKPOINT_RE.exec(name);
    if (!m) continue;
    const dir = join(outDir, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, TRAINER_STATE_FILE))) continue;
    out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(outDir: string): string | undefined {
  return listCheckpoints(outDir).at(-1)?.dir;
}

export function pruneCheckpoints(outDir: string, keep: number): void {
  const all = listCheckpoints(outDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) rmSync(c.dir, { recursive: true, force: true });
}

/** Whether a process with this id runs (another live writer's temp files are left alone). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Start-up clean-up of what a killed run leaves in `outDir`: a `.trash-checkpoint-<step>-…`
 * whose checkpoint-<step> is missing is renamed back (the kill came between the two renames of
 * a replacement); then temp checkpoint folders, other trash folders and atomic-write temp files
 * (`.model.safetensors.<pid>.<rand>.tmp` from a killed final write, ...) are removed.
 * Returns the names removed and the names restored.
 */
export function cleanStaleCheckpointTemps(outDir: string): string[] & { restored?: string[] } {
  const removed: string[] & { restored?: string[] } = [];
  if (!existsSync(outDir)) return removed;
  const restored: string[] = [];
  for (const name of readdirSync(outDir).sort()) {
    const m = TRASH_RE.exec(name);
    if (!m) continue;
    const final = checkpointDir(outDir, Number(m[1]));
    if (!existsSync(final) && existsSync(join(outDir, name, TRAINER_STATE_FILE))) {
      renameSync(join(outDir, name), final);
      restored.push(`${name} -> checkpoint-${m[1]}`);
    }
  }
  if (restored.length) fsyncDir(outDir);
  for (const name of readdirSync(outDir)) {
    const temp = ATOMIC_TEMP_RE.exec(name);
    if (TEMP_PREFIXES.some((p) => name.startsWith(p)) || (temp && !processAlive(Number(temp[1])))) {
      rmSync(join(outDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  if (restored.length) removed.restored = restored;
  return removed;
}

export interface LoadedCheckpoint {
  dir: string;
  state: TrainerState;
  /** Tensors by name in the weights file (as stored: float32 or float64). */
  weights: Map<string, FloatArray>;
  m: Map<string, FloatArray>;
  v: Map<string, FloatArray>;
}

async function readAll(path: string, strip: (name: string) => string | undefined): Promise<Map<string, FloatArray>> {
  const st = await openSafetensors(path);
  try {
    const out = new Map<string, FloatArray>();
    for (const [name, info] of st.tensors) {
      const key = strip(name);
      if (key === undefined) continue;
      if (info.dtype !== 'F32' && info.dtype !== 'F64') throw new FormatError(path, name, `expected F32 or F64, got ${info.dtype}`);
      out.set(key, (await st.read(name)) as FloatArray);
    }
    return out;
  } finally {
    await st.close();
  }
}

export async function readCheckpoint(dir: string, weightsFile: string, weightName: (fileName: string) => string = (n) => n): Promise<LoadedCheckpoint> {
  const statePath = join(dir, TRAINER_STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(statePath, 'utf8')) as TrainerState;
  } catch (e) {
    throw new FormatError(statePath, undefined, `cannot read trainer state: ${(e as Error).message}`);
  }
  if (state?.version !== 1 || !Number.isInteger(state.step)) throw new FormatError(statePath, 'version', 'not a slmkit trainer state (version 1)');
  if (!existsSync(join(dir, weightsFile))) throw new SlmError('NOT_FOUND', `${dir} has no ${weightsFile} (was it written by a LoRA run, or the other way round?)`);
  const weights = await readAll(join(dir, weightsFile), weightName);
  const m = await readAll(join(dir, OPTIMIZER_FILE), (n) => (n.startsWith('m.') ? n.slice(2) : undefined));
  const v = await readAll(join(dir, OPTIMIZER_FILE), (n) => (n.startsWith('v.') ? n.slice(2) : undefined));
  return { dir, state, weights, m, v };
}
