// Compile an IR graph to an onnxruntime-node session and run it with host tensors.
//
//   const cg = await compile(graph, { threads: 2 });
//   const { logits } = await cg.run({ ids, positions });
//
// Shared-buffer KV cache (lower option kvMode 'shared'): pass the same HostTensor as the past
// feed and as the preallocated fetch of the present output; both become one ORT tensor over
// one buffer, which GroupQueryAttention then updates in place (findings §4.2, §4.5):
//
//   const k = { dtype: 'float32', shape: [B, kvHeads, capacity, headDim], data: new Float32Array(n) };
//   const filled = { dtype: 'int32', shape: [B], data: Int32Array.from(lengths) }; // one per row
//   await cg.run({ ...feeds, past_k: k, kv_past_length: filled }, { logits: null, present_k: k });
//
// KV modes 'append' / 'append-gqa': the buffer is only fed (inputs are wrapped, not copied);
// fetch present_* with null and write those few positions into the buffer yourself
// (writeNewKv in src/models/decoder-session.ts), since every fetched output is copied into JS.
//
// A preallocated fetch is written by ORT in place and returned as the caller's own object. A
// HostTensor may be a view (subarray) into a larger buffer: the decoder session feeds one
// slot, or the first n slots, of its batch KV buffer that way (src/models/batch-kv.ts).

import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../ir/graph.ts';
import type { AnyTypedArray, DType, HostTensor } from '../ir/dtype.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import { lowerGraph, type GraphIO, type LowerOptions } from '../onnx/lower.ts';
import type { KvMode } from '../onnx/context.ts';
import { encodeModel } from '../onnx/proto.ts';
import { makeParamLoader, type ParamValue } from '../onnx/external-data.ts';
import { buildModel, defaultCacheDir } from './cache.ts';

export interface CompileOptions extends LowerOptions {
  /** intraOpNumThreads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Folder of the model cache (default $SLMKIT_CACHE/onnx or ~/.cache/slmkit/onnx); false: no cache. */
  cacheDir?: string | false;
  /** Weights by param name, overriding the params' own sources. */
  params?: Record<string, ParamValue>;
  /** Identifies the weights' content in the cache key instead of hashing their bytes. */
  weightsVersion?: string;
  signal?: AbortSignal;
}

/** Output names, or output name -> preallocated tensor (null: let onnxruntime allocate). */
export type Fetches = readonly string[] | Record<string, HostTensor | null>;

export interface CompiledGraph {
  readonly inputs: readonly GraphIO[];
  readonly outputs: readonly GraphIO[];
  readonly kvMode: KvMode;
  readonly modelPath: string;
  /** True when the built model came from the disk cache (nothing was written). */
  readonly cacheHit: boolean;
  /** The underlying session, for profiling or direct ORT use. */
  readonly session: ort.InferenceSession;
  run(feeds: Record<string, HostTensor>, fetches?: Fetches): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

type OrtType = 'float32' | 'float64' | 'float16' | 'int32' | 'int64' | 'bool';

function ortType(d: DType): OrtType {
  switch (d) {
    case 'float32':
    case 'float64':
    case 'float16':
    case 'int32':
    case 'int64':
    case 'bool':
      return d;
    default:
      throw new SlmError('UNSUPPORTED', `onnxruntime-node cannot exchange ${d} tensors`);
  }
}

function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as AnyTypedArray };
}

export async function compile(graph: Graph, opts: CompileOptions = {}): Promise<CompiledGraph> {
  throwIfAborted(opts.signal);
  const lowered = lowerGraph(graph, opts);
  const modelBytes = encodeModel(lowered.model);
  const built = await buildModel(lowered, modelBytes, {
    cacheDir: opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir,
    weightsVersion: opts.weightsVersion,
    load: makeParamLoader(opts.params),
    signal: opts.signal,
  });
  throwIfAborted(opts.signal);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(built.modelPath, {
      executionProviders: ['cpu'],
      ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}), // ORT rejects an explicit undefined
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Float64 graphs (finite-difference and oracle checks) get 'basic' (constant folding,
      // no fusions): onnxruntime's fusions fold scalar Mul/Div into float32 attributes (MatMul
      // alpha: ~1e-8 relative error) and some emit float-only kernels for double graphs.
      graphOptimizationLevel: lowered.usesFloat64 ? 'basic' : 'all',
    });
  } catch (e) {
    if (built.temporary) await rm(built.dir, { recursive: true, force: true });
    throw new SlmError('RUNTIME_ERROR', `onnxruntime could not load the model built from graph '${graph.name}' (${built.modelPath}): ${(e as Error).message}`, { cause: e });
  }
  return new OrtCompiledGraph(session, lowered.inputs, lowered.outputs, lowered.kvMode, built.modelPath, built.cacheHit, built.temporary ? built.dir : undefined);
}

/** Private build folders (cacheDir false) still in use; removed on dispose or at exit. */
const liveTempDirs = new Set<string>();
let exitHook = false;
function trackTempDir(dir: string): void {
  liveTempDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of liveTempDirs) rmSync(d, { recursive: true, force: true });
  });
}

class OrtCompiledGraph implements CompiledGraph {
  private disposed = false;
  private readonly inputByName: Map<string, GraphIO>;
  private readonly outputByName: Map<string, GraphIO>;

  constructor(
    readonly session: ort.InferenceSession,
    readonly inputs: readonly GraphIO[],
    readonly outputs: readonly GraphIO[],
    readonly kvMode: KvMode,
    readonly modelPath: string,
    readonly cacheHit: boolean,
    private readonly tempDir: string | undefined,
  ) {
    if (tempDir) trackTempDir(tempDir);
    this.inputByName = new Map(inputs.map((i) => [i.name, i]));
    this.outputByName = new Map(outputs.map((o) => [o.name, o]));
  }

  async run(feeds: Record<string, HostTensor>, fetches?: Fetches): Promise<Record<string, HostTensor>> {
    if (this.disposed) throw new SlmError('INVALID_ARGUMENT', 'run() on a disposed CompiledGraph');
    // One ORT tensor per host buffer, so a buffer given as feed and fetch is one tensor (the
    // shared-buffer KV mode relies on past and present having the same data pointer).
    const wrapped = new Map<AnyTypedArray, ort.Tensor>();
    const wrap = (h: HostTensor, what: string): ort.Tensor => {
      let t = wrapped.get(h.data);
      if (!t) {
        try {
          t = new ort.Tensor(ortType(h.dtype), h.data as never, h.shape);
        } catch (e) {
          throw new SlmError('INVALID_ARGUMENT', `${what}: ${(e as Error).message}`, { cause: e });
        }
        wrapped.set(h.data, t);
      }
      return t;
    };
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const io of this.inputs) {
      const h = feeds[io.name];
      if (!h) throw new SlmError('INVALID_ARGUMENT', `missing feed '${io.name}' (${io.dtype}[${io.shape.join(', ')}])`);
      if (h.dtype !== io.dtype) throw new SlmError('DTYPE_MISMATCH', `feed '${io.name}' is ${h.dtype}, the graph wants ${io.dtype}`);
      if (h.shape.length !== io.shape.length || io.shape.some((d, i) => typeof d === 'number' && d !== h.shape[i])) {
        throw new SlmError('SHAPE_MISMATCH', `feed '${io.name}' has shape [${h.shape.join(', ')}], the graph wants [${io.shape.join(', ')}]`);
      }
      ortFeeds[io.name] = wrap(h, `feed '${io.name}'`);
    }
    for (const name of Object.keys(feeds)) if (!this.inputByName.has(name)) throw new SlmError('INVALID_ARGUMENT', `'${name}' is not an input of this graph`);

    const names = fetches === undefined ? this.outputs.map((o) => o.name) : Array.isArray(fetches) ? [...fetches] : Object.keys(fetches);
    const pre: Record<string, HostTensor> = {};
    const ortFetches: Record<string, ort.Tensor | null> = {};
    for (const name of names) {
      const io = this.outputByName.get(name);
      if (!io) throw new SlmError('INVALID_ARGUMENT', `'${name}' is not an output of this graph`);
      const h = Array.isArray(fetches) || fetches === undefined ? null : (fetches as Record<string, HostTensor | null>)[name] ?? null;
      if (h) {
        if (h.dtype !== io.dtype) throw new SlmError('DTYPE_MISMATCH', `fetch '${name}' is ${h.dtype}, the graph produces ${io.dtype}`);
        pre[name] = h;
      }
      ortFetches[name] = h ? wrap(h, `fetch '${name}'`) : null;
    }

    let results: ort.InferenceSession.ReturnType;
    try {
      // The failure travels in the thrown error; keep onnxruntime from also logging it.
      results = await this.session.run(ortFeeds, ortFetches, { logSeverityLevel: 4 });
    } catch (e) {
      const msg = (e as Error).message;
      const hint = /batch_size must be 1 when sequence_length > 1 and past/.test(msg)
        ? ' (GroupQueryAttention cannot take a multi-token chunk on a non-empty cache for batch > 1: prefill each sequence alone, feed one token per step, or compile with fused: false)'
        : '';
      throw new SlmError('RUNTIME_ERROR', `onnxruntime run failed: ${msg}${hint}`, { cause: e });
    }
    const out: Record<string, HostTensor> = {};
    for (const name of names) out[name] = pre[name] ?? fromOrt(results[name] as ort.Tensor);
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
    if (this.tempDir) {
      liveTempDirs.delete(this.tempDir);
      await rm(this.tempDir, { recursive: true, force: true });
    }
  }
}
