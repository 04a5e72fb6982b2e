// Compile an IR graph to an onnxruntime-web session: the same lowering as the Node build
// (src/runtime/session.ts), with the weights gathered into one buffer handed to
// onnxruntime-web as the graph's external data. With a cache (cache.ts: the Origin Private
// File System in a page) a graph built before is taken from it and no weight is read.
import * as ort from 'onnxruntime-web';
import type { Graph } from '../ir/graph.ts';
import type { AnyTypedArray, HostTensor } from '../ir/dtype.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import { lowerGraph, type LowerOptions } from '../onnx/lower.ts';
import { encodeModel } from '../onnx/proto.ts';
import { initializerBytes, makeParamLoader } from '../onnx/initializer-bytes.ts';
import type { GraphRunner } from '../models/decoder-session.ts';
import { builtModelKey, type BuiltModelCache, type BuiltModelEntry } from './cache.ts';

/** wasm32 can address 4 GiB; the weights are held once in JS while onnxruntime copies them in. */
export const WASM_MEMORY_LIMIT = 4 * 1024 ** 3;

export interface WebRuntimeOptions {
  /** WASM threads (needs cross-origin isolation; 1 without it). Default: onnxruntime-web's choice. */
  threads?: number;
  /** Where onnxruntime-web's .wasm/.mjs files are served from (a URL ending in '/'). */
  wasmPaths?: string;
  /** 'wasm' (default) or 'webgpu' with the WASM fallback. */
  executionProvider?: 'wasm' | 'webgpu';
}

export interface WebCompileOptions extends LowerOptions, WebRuntimeOptions {
  signal?: AbortSignal;
  /** Built-model cache, used when `weightsVersion` identifies the weights. */
  cache?: BuiltModelCache;
  /** Identifies the weights' content (file version, dtype, quantizer); absent: no caching. */
  weightsVersion?: string;
  /** Told when the cache could not be written (the model still runs). */
  onCacheError?: (e: Error) => void;
}

export interface WebCompiledGraph extends GraphRunner {
  dataSize: number;
  /** True when the built model came from the cache (no weight was read). */
  cacheHit: boolean;
  /** Where the time went (ms): reading + gathering weights or reading the cache entry, creating the session, writing the cache. */
  timings: { weightsMs: number; sessionMs: number; cacheWriteMs: number };
  /** Settles when the cache holds this graph (true), or could not store it (false). */
  stored: Promise<boolean>;
}

let configured = false;
/** Applies the global onnxruntime-web settings once (they must be set before the first session). */
export function configureRuntime(o: WebRuntimeOptions): { threads: number; isolated: boolean } {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true || typeof (globalThis as { window?: unknown }).window === 'undefined';
  if (!configured) {
    configured = true;
    if (o.wasmPaths) ort.env.wasm.wasmPaths = o.wasmPaths;
    // Threads need SharedArrayBuffer, which a page only has when cross-origin isolated.
    ort.env.wasm.numThreads = isolated ? (o.threads ?? 0) : 1;
  }
  return { threads: ort.env.wasm.numThreads ?? 0, isolated };
}

/** A macrotask turn: scheduler.yield() where the browser has it, else a zero timeout. */
function yieldToPage(): Promise<void> {
  const s = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof s?.yield === 'function') return s.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function ortType(d: HostTensor['dtype']): 'float32' | 'float16' | 'int32' | 'int64' | 'bool' {
  if (d === 'float32' || d === 'float16' || d === 'int32' || d === 'int64' || d === 'bool') return d;
  throw new SlmError('UNSUPPORTED', `onnxruntime-web cannot exchange ${d} tensors`);
}

async function createSession(name: string, e: BuiltModelEntry, o: WebCompileOptions): Promise<ort.InferenceSession> {
  const eps = o.executionProvider === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'];
  try {
    return await ort.InferenceSession.create(e.model, {
      executionProviders: eps,
      graphOptimizationLevel: 'all',
      externalData: [{ path: 'model.onnx.data', data: e.data }],
    });
  } catch (err) {
    throw new SlmError('RUNTIME_ERROR', `onnxruntime-web could not load graph '${name}': ${(err as Error).message ?? err}`, { cause: err });
  }
}

export async function compileWeb(graph: Graph, o: WebCompileOptions = {}): Promise<WebCompiledGraph> {
  throwIfAborted(o.signal);
  configureRuntime(o);
  const lowered = lowerGraph(graph, o);
  if (lowered.dataSize > WASM_MEMORY_LIMIT) {
    throw new SlmError('INVALID_ARGUMENT', `graph '${graph.name}' holds ${(lowered.dataSize / 1024 ** 3).toFixed(2)} GiB of weights; the browser's wasm32 memory is limited to 4 GiB (try dtype q4)`);
  }
  const now = () => (globalThis.performance ?? Date).now();
  const t0 = now();
  const model = encodeModel(lowered.model);
  let key: string | undefined;
  if (o.cache && o.weightsVersion !== undefined) {
    // No crypto.subtle (a page served over plain http from another host): run uncached.
    key = await builtModelKey(lowered, model, o.weightsVersion).catch((e: Error) => (o.onCacheError?.(e), undefined));
  }
  let entry = key ? await o.cache!.get(key) : undefined;
  const cacheHit = entry !== undefined && entry.data.byteLength === lowered.dataSize;
  if (!cacheHit) {
    const data = new Uint8Array(lowered.dataSize);
    const load = makeParamLoader();
    for (const init of lowered.initializers) {
      throwIfAborted(o.signal);
      data.set(await initializerBytes(init, load), init.offset);
    }
    entry = { model, data, inputs: lowered.inputs.map((i) => i.name), outputs: lowered.outputs.map((x) => x.name) };
  }
  throwIfAborted(o.signal);
  const t1 = now();
  const session = await createSession(graph.name, entry!, o);
  const t2 = now();
  // The cache is written in the background: the first reply need not wait for the disk.
  const timings = { weightsMs: Math.round(t1 - t0), sessionMs: Math.round(t2 - t1), cacheWriteMs: 0 };
  let stored: Promise<boolean> = Promise.resolve(cacheHit);
  if (!cacheHit && key && entry!.data.byteLength === lowered.dataSize) {
    const e = entry!;
    stored = o.cache!.put(key, e).then(
      () => ((timings.cacheWriteMs = Math.round(now() - t2)), true),
      (err: Error) => (o.onCacheError?.(err), false),
    );
  }
  const inputs = new Set(entry!.inputs);
  const outputs = entry!.outputs;
  entry = undefined; // the weights now live in onnxruntime's memory
  return {
    dataSize: lowered.dataSize,
    cacheHit,
    timings,
    stored,
    async run(feeds, opts) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, h] of Object.entries(feeds)) {
        if (!inputs.has(name)) throw new SlmError('INVALID_ARGUMENT', `'${name}' is not an input of this graph`);
        ortFeeds[name] = new ort.Tensor(ortType(h.dtype), h.data as never, h.shape);
      }
      const names = opts?.fetches ? Object.keys(opts.fetches) : outputs;
      if (opts?.fetches && Object.values(opts.fetches).some((v) => v !== null)) {
        throw new SlmError('UNSUPPORTED', 'preallocated fetches (the shared KV mode) are not available on onnxruntime-web');
      }
      // Let the page handle input (a Stop click) and paint between runs: onnxruntime-web's runs
      // resolve without returning to the event loop, so a long reply would freeze the tab.
      await yieldToPage();
      throwIfAborted(opts?.signal);
      let r: ort.InferenceSession.ReturnType;
      try {
        r = await session.run(ortFeeds, names);
      } catch (e) {
        throw new SlmError('RUNTIME_ERROR', `onnxruntime-web run failed: ${(e as Error).message ?? e}`, { cause: e });
      }
      const out: Record<string, HostTensor> = {};
      for (const n of names) {
        const t = r[n] as ort.Tensor;
        out[n] = { dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as AnyTypedArray };
      }
      return out;
    },
    dispose: () => session.release(),
  };
}
