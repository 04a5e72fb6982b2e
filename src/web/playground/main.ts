// The playground page: run a model in this browser (slmkit/web on onnxruntime-web) or on the
// server that serves the page (its OpenAI-compatible /v1/completions, streamed), with
// tokens/s, time to first token and memory shown. Plain DOM code: one page needs no framework.
import { filesModelSource, loadCausalLMWeb, urlModelSource, type ModelSource, type WebCausalLM } from '../index.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const output = $<HTMLDivElement>('output');
const status = $<HTMLParagraphElement>('status');
const stats = $<HTMLParagraphElement>('stats');
const genButton = $<HTMLButtonElement>('generate');
const stopButton = $<HTMLButtonElement>('stop');

interface UiInfo {
  model: string;
  /** The served model's files can be loaded by the page (a Hugging Face folder with safetensors). */
  browser: boolean;
}

let info: UiInfo | undefined;
let source: ModelSource | undefined;
let loaded: { source: ModelSource; model: Promise<WebCausalLM> } | undefined;
let running: AbortController | undefined;

function say(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function num(id: string): number {
  return Number($<HTMLInputElement>(id).value);
}

function where(): 'browser' | 'server' {
  return (document.querySelector('input[name=where]:checked') as HTMLInputElement).value as 'browser' | 'server';
}

function threadsWanted(): number | undefined {
  const t = new URLSearchParams(location.search).get('threads');
  return t ? Number(t) : undefined;
}

async function model(): Promise<WebCausalLM> {
  if (!source) throw new Error('no model files: this server’s model cannot run in the browser; drop a model folder’s files on the page');
  if (loaded?.source !== source) {
    const t0 = performance.now();
    say(`loading ${source.name} …`);
    const p = loadCausalLMWeb(source, { wasmPaths: '/ui/ort/', threads: threadsWanted() });
    loaded = { source, model: p };
    p.then(
      (m) => say(`loaded ${m.modelType} (${(m.parameterCount / 1e6).toFixed(1)}M parameters, ${m.dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${m.threads === 1 ? '1 thread' : `${m.threads || 'auto'} threads`}${crossOriginIsolated ? '' : ' (page not cross-origin isolated: single-threaded)'}`),
      () => (loaded = undefined),
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

async function runInBrowser(prompt: string, signal: AbortSignal): Promise<void> {
  const m = await model();
  const t0 = performance.now();
  let firstAt: number | undefined;
  const tokens: number[] = [];
  const gen = m.generate(prompt, { maxTokens: num('max-tokens'), temperature: num('temperature'), topP: num('top-p'), signal });
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
}

async function runOnServer(prompt: string, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  let firstAt: number | undefined;
  let n = 0;
  // The API's model id (the name /v1/models lists).
  const models = (await (await fetch('/v1/models', { signal })).json()) as { data?: { id: string }[] };
  const res = await fetch('/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: models.data?.[0]?.id, prompt, max_tokens: num('max-tokens'), temperature: num('temperature'), top_p: num('top-p'), stream: true }),
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`server answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let finish = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.replace(/^data: ?/m, '');
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data) as { choices?: { text?: string; finish_reason?: string | null }[]; error?: { message: string } };
      if (chunk.error) throw new Error(chunk.error.message);
      const c = chunk.choices?.[0];
      if (c?.text) {
        firstAt ??= performance.now();
        n++;
        output.textContent += c.text;
      }
      if (c?.finish_reason) finish = c.finish_reason;
      showStats(n, t0, firstAt);
    }
  }
  say(`done on the server (${finish || 'end'}; tokens/s counts streamed chunks)`);
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
    await (where() === 'browser' ? runInBrowser(prompt, running.signal) : runOnServer(prompt, running.signal));
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
  genButton.addEventListener('click', () => void onGenerate());
  stopButton.addEventListener('click', () => running?.abort());
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
  try {
    const r = await fetch('/ui/info');
    info = (await r.json()) as UiInfo;
    $<HTMLElement>('model-name').textContent = info.model;
    if (info.browser) source = urlModelSource(new URL('/ui/model/', location.href).href);
    else say('the server’s model is not a Hugging Face folder with model.safetensors: run it on the server, or drop a folder’s files here');
  } catch (e) {
    say(`cannot reach the server: ${(e as Error).message}`, true);
  }
  document.body.dataset.ready = 'true';
}

void init();
