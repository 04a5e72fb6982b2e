// The two kinds of large model SuperICL talks to: a local slmkit decoder (loadCausalLM) and any
// OpenAI-compatible endpoint (/v1/completions, e.g. `slm serve`). Both complete raw text: the
// reference sends the prompt to text-davinci-003's completions API, so no chat template.
import { basename, resolve } from 'node:path';
import type { CausalLM } from '../../models/load.ts';
import { codecFromTokenizer } from '../../generate/text-codec.ts';
import { encodePrompt } from '../../generate/encode-prompt.ts';
import { generateText } from '../../generate/generate.ts';
import { OpenAICompatibleClient, type ClientOptions } from '../../client/openai-client.ts';
import { SlmError } from '../../errors.ts';
import type { CompletionOptions, LargeModel } from './supericl.ts';

/** A loaded local decoder as the large model (one sequence at a time; the prompt re-prefilled each call). */
export function localLargeModel(lm: CausalLM): LargeModel & { dispose(): Promise<void> } {
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const session = lm.createSession();
  let busy: Promise<unknown> = Promise.resolve();
  return {
    id: JSON.stringify(['local', resolve(lm.path), lm.dtype, lm.context]),
    fits: (prompt, maxTokens) => encodePrompt(codec, prompt).length + maxTokens <= lm.context,
    complete(prompt: string, o: CompletionOptions, signal?: AbortSignal): Promise<string> {
      // One session: calls queue behind each other.
      const run = busy.then(async () => {
        const ids = encodePrompt(codec, prompt);
        const room = lm.context - ids.length;
        if (room < 1) throw new SlmError('INVALID_ARGUMENT', `the prompt has ${ids.length} tokens but ${basename(lm.path)}'s context holds ${lm.context}`);
        session.truncate(0, 0);
        try {
          const r = await generateText(session, codec, ids, { temperature: o.temperature, topP: o.topP, maxTokens: Math.min(o.maxTokens, room), seed: o.seed, signal });
          return r.text;
        } finally {
          session.truncate(0, 0);
        }
      });
      busy = run.catch(() => undefined);
      return run;
    },
    dispose: () => session.dispose(),
  };
}

/** An OpenAI-compatible completions endpoint as the large model. */
export function endpointLargeModel(o: ClientOptions & { model: string }): LargeModel {
  const client = new OpenAICompatibleClient(o);
  return {
    id: JSON.stringify(['endpoint', o.baseURL.replace(/\/+$/, ''), o.model]),
    async complete(prompt: string, g: CompletionOptions, signal?: AbortSignal): Promise<string> {
      const r = await client.completions({ model: o.model, prompt, temperature: g.temperature, top_p: g.topP, max_tokens: g.maxTokens, seed: g.seed }, { signal });
      const text = (r.choices as { text?: unknown }[] | undefined)?.[0]?.text;
      if (typeof text !== 'string') throw new SlmError('RUNTIME_ERROR', `${o.baseURL}: completions response without choices[0].text`);
      return text;
    },
  };
}
