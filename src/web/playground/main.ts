// The playground page: run a model in this browser (slmkit/web on onnxruntime-web) or on the
// server that serves the page (its OpenAI-compatible API, streamed), as a completion or a
// chat, with tokens/s, time to first token and memory shown. Models: the server's (a Hugging
// Face folder or a GGUF, read by ranges), or files dropped on the page. Built graphs are kept
// in the Origin Private File System, so a reload starts without reading weights.
// Plain DOM code: one page needs no framework.
import { clearOpfsModelCache, filesModelSource, ggufModelSource, loadCausalLMWeb, opfsAvailable, urlModelSource, type ModelSource, type WebCausalLM, type WebLoadProgress } from '../index.ts';
import { chatPrompt, readSse, type ChatTurn } from './chat.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const output = $<HTMLDivElement>('output');
const status = $<HTMLParagraphElement>('status');
const stats = $<HTMLParagraphElement>('stats');
const progress = $<HTMLProgressElement>('progress');
const genButton = $<HTMLButtonElement>('generate');
const stopButton = $<HTMLButtonElement>('stop');

interface UiInfo {
  model: string;
  /** The served model's files can be loaded by the page. */
  browser: boolean;
  /** Set when the served model is one GGUF file (its name under /ui/model/). */
  gguf?: string;
}

let source: ModelSource | undefined;
let loaded: { source: ModelSource; backend: string; model: Promise<WebCausalLM> } | undefined;
let running: AbortController | undefined;
let history: ChatTurn[] = [];

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

const num = (id: string) => Number($<HTMLInputElement>(id).value);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const where = () => (document.querySelector('input[name=where]:checked') as HTMLInputElement).value as 'browser' | 'server';
const backend = () => $<HTMLSelectElement>('backend').value as 'wasm' | 'webgpu';
const chatMode = () => $<HTMLInputElement>('chat').checked;

function threadsWanted(): number | undefined {
  const t = new URLSearchParams(location.search).get('threads');
  return t ? Number(t) : undefined;
}

/** When each load phase was first and last seen (ms since the load began), for the benches. */
let phases: Record<string, [number, number]> = {};
let loadT0 = 0;

function onProgress(p: WebLoadProgress): void {
  const t = Math.round(performance.now() - loadT0);
  phases[p.phase] = [phases[p.phase]?.[0] ?? t, t];
  if (p.timings) Object.assign(phases, Object.fromEntries(Object.entries(p.timings).map(([k, v]) => [k, [v, v]])));
  if (p.phase === 'weights' && p.total) {
    progress.hidden = false;
    progress.value = Math.min(1, p.loaded! / p.total);
    say(`reading weights: ${mib(p.loaded!)} of ${mib(p.total)}`);
  } else if (p.phase === 'cache-error') {
    $<HTMLElement>('cache-note').textContent = p.detail ?? '';
  }
}

async function model(): Promise<WebCausalLM> {
  if (!source) throw new Error('no model files: this server’s model cannot run in the browser; drop a .gguf or a model folder’s files on the page');
  if (loaded?.source !== source || loaded.backend !== backend()) {
    if (loaded) void loaded.model.then((m) => m.dispose()).catch(() => undefined);
    const t0 = performance.now();
    loadT0 = t0;
    phases = {};
    say(`loading ${source.name} …`);
    const ep = backend();
    const p = loadCausalLMWeb(source, { wasmPaths: '/ui/ort/', threads: threadsWanted(), executionProvider: ep, onProgress });
    loaded = { source, backend: ep, model: p };
    p.then(
      (m) => {
        const ms = performance.now() - t0;
        progress.hidden = true;
        const from = m.graphs.cached > 0 ? `from the browser cache (${m.graphs.cache})` : m.graphs.cache ? 'built; kept in the browser cache for next time' : 'built (not cacheable)';
        const threads = m.threads === 1 ? '1 thread' : `${m.threads || 'auto'} threads`;
        say(`loaded ${m.modelType} ${m.format} (${(m.parameterCount / 1e6).toFixed(1)}M parameters, ${m.dtype}) in ${(ms / 1000).toFixed(1)} s, ${from}; ${threads}${crossOriginIsolated ? '' : ' (page not cross-origin isolated: single-threaded)'}`);
        document.body.dataset.loadMs = ms.toFixed(0);
        document.body.dataset.phases = JSON.stringify(phases);
        document.body.dataset.cached = String(m.graphs.cached > 0);
        void m.cacheWrites().then((ok) => {
          document.body.dataset.stored = String(ok);
          if (ok && m.graphs.cached === 0) $<HTMLElement>('cache-note').textContent = 'built model stored in the browser cache';
        });
      },
      () => {
        progress.hidden = true;
        loaded = undefined;
      },
    );
  }
  return loaded.model;
}

function showStats(tokens: number, t0: number, firstAt: number | undefined, memoryBytes?: number): void {
  const now = performance.now();
  const decodeS = firstAt !== undefined && tokens > 1 ? (now - firstAt) / 1000 / (tokens - 1) : undefined;
  const mem = (performance as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
  stats.textContent = [
    `${tokens} tokens`,
    firstAt !== undefined ? `first token ${(firstAt - t0).toFixed(0)} ms` : '',
    decodeS ? `${(1 / decodeS).toFixed(1)} tokens/s` : '',
    memoryBytes ? `model memory ≈ ${(memoryBytes / 2 ** 20).toFixed(0)} MiB` : '',
    mem ? `JS heap ${(mem / 2 ** 20).toFixed(0)} MiB` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

/** Runs in the page; returns the reply text. */
async function runInBrowser(prompt: string, signal: AbortSignal): Promise<string> {
  const t0 = performance.now();
  const m = await model();
  let firstAt: number | undefined;
  const tokens: number[] = [];
  const chat = chatMode() ? chatPrompt(m.tokenizer, [...history, { role: 'user', content: prompt }]) : undefined;
  const gen = m.generate(chat ? chat.ids : prompt, { maxTokens: num('max-tokens'), temperature: num('temperature'), topP: num('top-p'), stop: chat?.stop, signal });
  for await (const step of gen) {
    firstAt ??= performance.now();
    tokens.push(step.token);
    output.textContent += step.textDelta;
    output.dataset.tokens = tokens.join(',');
    showStats(tokens.length, t0, firstAt, m.memoryBytes);
  }
  const r = await gen.done();
  output.textContent += r.textTail;
  output.dataset.tokens = r.tokens.join(',');
  output.dataset.stats = JSON.stringify(r.stats);
  showStats(r.tokens.length, t0, firstAt, m.memoryBytes);
  say(`done (${r.finishReason})`);
  return r.text;
}

async function runOnServer(prompt: string, signal: AbortSignal): Promise<string> {
  const t0 = performance.now();
  let firstAt: number | undefined;
  let n = 0;
  let text = '';
  // The API's model id (the name /v1/models lists).
  const models = (await (await fetch('/v1/models', { signal })).json()) as { data?: { id: string }[] };
  const sampling = { model: models.data?.[0]?.id, max_tokens: num('max-tokens'), temperature: num('temperature'), top_p: num('top-p'), stream: true };
  const chat = chatMode();
  const res = await fetch(chat ? '/v1/chat/completions' : '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chat ? { ...sampling, messages: [...history, { role: 'user', content: prompt }] } : { ...sampling, prompt }),
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`server answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  let finish = '';
  for await (const chunk of readSse(res.body)) {
    const c = chunk.choices?.[0];
    const piece = c?.text ?? c?.delta?.content;
    if (piece) {
      firstAt ??= performance.now();
      n++;
      text += piece;
      output.textContent += piece;
    }
    if (c?.finish_reason) finish = c.finish_reason;
    showStats(n, t0, firstAt);
  }
  say(`done on the server (${finish || 'end'}; tokens/s counts streamed chunks)`);
  return text;
}

function showHistory(): void {
  const h = $<HTMLOListElement>('history');
  h.replaceChildren(...history.map((t) => Object.assign(document.createElement('li'), { textContent: `${t.role}: ${t.content}` })));
}

async function onGenerate(): Promise<void> {
  if (running) return;
  running = new AbortController();
  genButton.disabled = true;
  stopButton.disabled = false;
  output.textContent = '';
  delete output.dataset.tokens;
  delete output.dataset.stats;
  output.dataset.state = 'running';
  try {
    const prompt = $<HTMLTextAreaElement>('prompt').value;
    const reply = await (where() === 'browser' ? runInBrowser(prompt, running.signal) : runOnServer(prompt, running.signal));
    if (chatMode()) {
      history.push({ role: 'user', content: prompt }, { role: 'assistant', content: reply.trim() });
      showHistory();
    }
  } catch (e) {
    if (running.signal.aborted) say('stopped');
    else say(`error: ${(e as Error).message ?? e}`, true);
  } finally {
    running = undefined;
    genButton.disabled = false;
    stopButton.disabled = true;
    output.dataset.state = 'done';
  }
}

function useFiles(files: FileList | File[]): void {
  const list = [...files];
  if (list.length === 0) return;
  source = filesModelSource(list, `${list.length} dropped file${list.length === 1 ? '' : 's'}/`);
  (document.querySelector('input[value=browser]') as HTMLInputElement).checked = true;
  $<HTMLElement>('model-name').textContent = list.map((f) => f.name).join(', ');
  say('model files ready: press Generate to load them');
}

async function init(): Promise<void> {
  // Anything that escapes a handler is shown, so the page never just stops responding.
  addEventListener('error', (e) => say(`error: ${e.message}`, true));
  addEventListener('unhandledrejection', (e) => say(`error: ${(e.reason as Error)?.message ?? e.reason}`, true));
  genButton.addEventListener('click', () => void onGenerate());
  stopButton.addEventListener('click', () => running?.abort());
  $<HTMLInputElement>('chat').addEventListener('change', () => ((history = []), showHistory()));
  $<HTMLButtonElement>('clear-cache').addEventListener('click', async () => {
    const n = await clearOpfsModelCache();
    $<HTMLElement>('cache-note').textContent = `removed ${n} built model${n === 1 ? '' : 's'}`;
  });
  $<HTMLInputElement>('files').addEventListener('change', (e) => useFiles((e.target as HTMLInputElement).files ?? []));
  const drop = $<HTMLDivElement>('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    useFiles(e.dataTransfer?.files ?? []);
  });
  // A WebGPU adapter, not just navigator.gpu: without one onnxruntime-web falls back to WASM.
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  document.body.dataset.webgpu = String(!!adapter);
  $<HTMLElement>('runtime-note').textContent = [
    crossOriginIsolated ? 'cross-origin isolated: WASM threads available' : 'not cross-origin isolated: WASM runs single-threaded',
    adapter ? 'WebGPU adapter present' : 'no WebGPU adapter here (the WebGPU choice runs on WASM)',
  ].join(' · ');
  if (!(await opfsAvailable())) $<HTMLElement>('cache-note').textContent = 'no Origin Private File System here: models are built on every visit';
  try {
    const r = await fetch('/ui/info');
    const info = (await r.json()) as UiInfo;
    $<HTMLElement>('model-name').textContent = info.model;
    if (info.gguf) source = ggufModelSource(new URL(`/ui/model/${encodeURIComponent(info.gguf)}`, location.href).href, info.gguf);
    else if (info.browser) source = urlModelSource(new URL('/ui/model/', location.href).href);
    else say('the server’s model is not a Hugging Face folder with model.safetensors or a GGUF: run it on the server, or drop a model’s files here');
  } catch (e) {
    say(`cannot reach the server: ${(e as Error).message}`, true);
  }
  document.body.dataset.ready = 'true';
}

void init();
