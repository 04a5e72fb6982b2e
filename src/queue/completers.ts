// Completers a generation worker can call. The teacher is any OpenAI-compatible endpoint
// (`slm serve` of a local model, vLLM, llama.cpp server, a hosted API); `echo` is a
// deterministic backend with an optional delay, for dry runs and the queue tests.
import { OpenAICompatibleClient } from '../client/openai-client.ts';
import { SlmError } from '../errors.ts';
import type { Completer, GenerationParams, PromptRecord } from './generation.ts';

export interface EndpointCompleterOptions {
  baseURL: string;
  model: string;
  apiKey?: string;
  /** Use /chat/completions with the prompt as one user message instead of /completions. */
  chat?: boolean;
  /** Prompts of a chunk sent at the same time. Default 4. */
  concurrency?: number;
}

export function endpointCompleter(o: EndpointCompleterOptions): Completer {
  const client = new OpenAICompatibleClient({ baseURL: o.baseURL, apiKey: o.apiKey, maxRetries: 4 });
  const one = async (r: PromptRecord, p: GenerationParams, signal?: AbortSignal): Promise<string[]> => {
    const common = {
      model: o.model,
      max_tokens: p.maxTokens ?? 256,
      temperature: p.temperature ?? 0,
      ...(p.topP !== undefined ? { top_p: p.topP } : {}),
      ...(p.n && p.n > 1 ? { n: p.n } : {}),
      ...(p.stop ? { stop: p.stop } : {}),
      ...(p.seed !== undefined ? { seed: p.seed } : {}),
    };
    const res = o.chat
      ? await client.chat({ ...common, messages: [{ role: 'user', content: r.prompt }] }, { signal })
      : await client.completions({ ...common, prompt: r.prompt }, { signal });
    const choices = (res.choices ?? []) as { index?: number; text?: string; message?: { content?: string } }[];
    const texts = choices.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((c) => (o.chat ? c.message?.content : c.text) ?? '');
    if (texts.length !== (p.n ?? 1)) throw new SlmError('RUNTIME_ERROR', `endpoint returned ${texts.length} choices, asked for ${p.n ?? 1}`);
    return texts;
  };
  const limit = Math.max(1, o.concurrency ?? 4);
  return {
    async complete(records, params, signal) {
      const out: string[][] = new Array(records.length);
      let next = 0;
      const lane = async () => {
        while (next < records.length) {
          const i = next++;
          out[i] = await one(records[i]!, params, signal);
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, records.length) }, lane));
      return out;
    },
  };
}

/** Deterministic: each sample is `echo:<sample>:<prompt>`; waits `delayMs` per prompt. */
export function echoCompleter(delayMs = 0): Completer {
  return {
    async complete(records, params, signal) {
      const out: string[][] = [];
      for (const r of records) {
        if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs));
        if (signal?.aborted) throw new SlmError('ABORTED', 'aborted');
        out.push(Array.from({ length: params.n ?? 1 }, (_, s) => `echo:${s}:${r.prompt}`));
      }
      return out;
    },
  };
}
