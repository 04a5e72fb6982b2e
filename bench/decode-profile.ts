// Where a decode step's time goes (slmkit on onnxruntime), per token, in milliseconds:
//
//   step       = argmax over the logits (what the bench loop does) + session.forward
//   forward    = DecoderSession.forward: feeds, KV views, the run, logits rows
//   ort.run    = onnxruntime-node's InferenceSession.run (input wrapping, the native run, the
//                copy of every output back into JS: logits and the present KV buffers)
//   model_run  = onnxruntime's own time for the run (its profiler), of which `kernels` is the
//                sum of the node kernels, by op type; the rest is the executor between nodes
//
// Two passes over the same prompt: the timings without onnxruntime's profiler (it slows runs
// down), then a profiled pass for model_run and the per-op split.
//
//   node --import tsx bench/decode-profile.ts <model.gguf|folder> [--dtype q4] [--threads 1]
//        [--prompt-tokens 256] [--gen-tokens 128] [--accuracy 4] [--kv-mode shared|append|concat] [--json]
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadCausalLM, type LoadModelOptions, type ModelDType } from '../src/models/load.ts';

type KvMode = NonNullable<LoadModelOptions['kvMode']>;

export interface DecodeProfile {
  dtype: ModelDType;
  threads: number;
  accuracyLevel: 0 | 4;
  /** undefined: loadCausalLM's default. */
  kvMode: KvMode | undefined;
  /** Medians over decode steps 3.. (ms per token). */
  step_ms: number;
  argmax_ms: number;
  forward_ms: number;
  ort_run_ms: number;
  /** forward - ort.run: the decoder session's own JS work. */
  session_js_ms: number;
  /** From the profiled pass. */
  model_run_ms: number;
  kernels_ms: number;
  /** ort.run - model_run (unprofiled ort.run against profiled model_run: an estimate). */
  binding_ms: number;
  executor_ms: number;
  by_op_ms: Record<string, number>;
  nodes_per_step: number;
  decode_tok_s: number;
  load1: number;
}

const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1]!;

type SessionProto = { run: (...a: unknown[]) => Promise<unknown> };
type SessionCreate = (path: unknown, o?: Record<string, unknown>) => Promise<{ endProfiling(): void }>;

/** Times every InferenceSession.run (restored by the returned function). */
function timeOrtRuns(onRun: (ms: number) => void): () => void {
  const proto = (ort.InferenceSession as unknown as { prototype: SessionProto }).prototype;
  const orig = proto.run;
  proto.run = async function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    try {
      return await orig.apply(this, a);
    } finally {
      onRun(performance.now() - t);
    }
  };
  return () => void (proto.run = orig);
}

/** Makes every new session profile into `dir` (restored by the returned function). */
function profileSessions(dir: string, created: { endProfiling(): void }[]): () => void {
  const IS = ort.InferenceSession as unknown as { create: SessionCreate };
  const orig = IS.create;
  IS.create = async (p, o) => {
    const s = await orig.call(IS, p, { ...o, enableProfiling: true, profileFilePrefix: join(dir, 'ort') });
    created.push(s);
    return s;
  };
  return () => void (IS.create = orig);
}

async function decodePass(path: string, o: { dtype: ModelDType; threads: number; accuracyLevel: 0 | 4; kvMode: KvMode | undefined; promptTokens: number; genTokens: number }) {
  const model = await loadCausalLM(path, { dtype: o.dtype, threads: o.threads, accuracyLevel: o.accuracyLevel, kvMode: o.kvMode, context: o.promptTokens + o.genTokens });
  const session = model.createSession();
  await session.forward([[1]]);
  session.truncate(0, 0);
  const V = model.vocabSize;
  const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7919 + 13) % V);
  let [[logits]] = (await session.forward([prompt])) as [[Float32Array]];
  let ortMs = 0;
  const restore = timeOrtRuns((ms) => (ortMs += ms));
  const steps: { argmax: number; forward: number; ort: number }[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < o.genTokens; i++) {
      const a = performance.now();
      let best = 0;
      for (let j = 1; j < V; j++) if (logits[j]! > logits[best]!) best = j;
      const b = performance.now();
      ortMs = 0;
      [[logits]] = (await session.forward([[best]])) as [[Float32Array]];
      steps.push({ argmax: b - a, forward: performance.now() - b, ort: ortMs });
    }
  } finally {
    restore();
  }
  const wall = performance.now() - t0;
  await session.dispose();
  await model.dispose();
  return { steps: steps.slice(2), tokS: (o.genTokens / wall) * 1000 };
}

export async function profileDecode(path: string, o: { dtype?: ModelDType; threads?: number; accuracyLevel?: 0 | 4; kvMode?: KvMode; promptTokens?: number; genTokens?: number } = {}): Promise<DecodeProfile> {
  const opts = { dtype: o.dtype ?? 'q4', threads: o.threads ?? 1, accuracyLevel: o.accuracyLevel ?? 4, kvMode: o.kvMode, promptTokens: o.promptTokens ?? 256, genTokens: o.genTokens ?? 128 };
  const plain = await decodePass(path, opts);
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-prof-'));
  const sessions: { endProfiling(): void }[] = [];
  const restore = profileSessions(dir, sessions);
  try {
    await decodePass(path, opts);
  } finally {
    restore();
  }
  const events: { name: string; cat: string; ts: number; dur: number; args?: { op_name?: string } }[] = [];
  for (const f of readdirSync(dir)) events.push(...JSON.parse(readFileSync(join(dir, f), 'utf8')));
  rmSync(dir, { recursive: true, force: true });
  // Decode steps are the last genTokens runs (warm-up and prefill come first); skip two.
  const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(-opts.genTokens + 2);
  const byOp = new Map<string, number>();
  let kernels = 0;
  let nodes = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    if (!runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur)) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / 1000);
    kernels += e.dur / 1000;
    nodes++;
  }
  const n = runs.length;
  const modelRun = median(runs.map((r) => r.dur / 1000));
  const s = plain.steps;
  const forward = median(s.map((x) => x.forward));
  const ortRun = median(s.map((x) => x.ort));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ...opts,
    step_ms: r3(median(s.map((x) => x.forward + x.argmax))),
    argmax_ms: r3(median(s.map((x) => x.argmax))),
    forward_ms: r3(forward),
    ort_run_ms: r3(ortRun),
    session_js_ms: r3(forward - ortRun),
    model_run_ms: r3(modelRun),
    kernels_ms: r3(kernels / n),
    binding_ms: r3(ortRun - modelRun),
    executor_ms: r3(modelRun - kernels / n),
    by_op_ms: Object.fromEntries([...byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r3(v / n)])),
    nodes_per_step: Math.round(nodes / n),
    decode_tok_s: Math.round(plain.tokS * 10) / 10,
    load1: loadavg()[0]!,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dtype: { type: 'string' },
      threads: { type: 'string' },
      accuracy: { type: 'string' },
      'kv-mode': { type: 'string' },
      'prompt-tokens': { type: 'string' },
      'gen-tokens': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: bench/decode-profile.ts <model> [--dtype q4] [--threads 1] [--accuracy 4] [--prompt-tokens 256] [--gen-tokens 128] [--kv-mode shared|append|concat] [--json]\n');
    process.exit(2);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const p = await profileDecode(positionals[0]!, {
    dtype: values.dtype as ModelDType | undefined,
    threads: num(values.threads),
    accuracyLevel: num(values.accuracy) as 0 | 4 | undefined,
    kvMode: values['kv-mode'] as KvMode | undefined,
    promptTokens: num(values['prompt-tokens']),
    genTokens: num(values['gen-tokens']),
  });
  if (values.json) console.log(JSON.stringify(p));
  else {
    console.log(`per token (medians, ms): step ${p.step_ms} = argmax ${p.argmax_ms} + forward ${p.forward_ms}`);
    console.log(`  forward = session JS ${p.session_js_ms} + ort.run ${p.ort_run_ms}`);
    console.log(`  ort.run ~ binding ${p.binding_ms} + model_run ${p.model_run_ms} (profiled) = executor ${p.executor_ms} + kernels ${p.kernels_ms} (${p.nodes_per_step} nodes)`);
    console.log(`  kernels by op: ${Object.entries(p.by_op_ms).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`decode ${p.decode_tok_s} tok/s (kv ${p.kvMode ?? 'default'}); load average ${p.load1.toFixed(2)}`);
  }
}
