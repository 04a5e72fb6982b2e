// OpenAI JSON shapes for logprobs and usage.
import type { TextCodec } from '../generate/text-codec.ts';
import type { PromptTokenLogprob } from '../generate/sequence-run.ts';
import type { GenerationStep, TokenLogprob } from '../generate/types.ts';
import { tokenTextFn } from '../generate/constrained/token-mask.ts';

export interface ChatLogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
}

export class LogprobFormatter {
  private readonly text: (id: number) => string;
  constructor(private readonly codec: TextCodec) {
    this.text = tokenTextFn(codec);
  }

  tokenString(id: number): string {
    return this.text(id);
  }

  bytes(id: number): number[] {
    const raw = this.codec.tokenBytes?.(id);
    return Array.from(raw ?? Buffer.from(this.text(id), 'utf8'));
  }

  /** Chat shape: {content: [{token, logprob, bytes, top_logprobs}]}. */
  chatEntry(step: GenerationStep): ChatLogprobEntry {
    const alt = (t: TokenLogprob) => ({ token: this.text(t.token), logprob: finite(t.logprob), bytes: this.bytes(t.token) });
    return { token: this.text(step.token), logprob: finite(step.logprob ?? NaN), bytes: this.bytes(step.token), top_logprobs: (step.topLogprobs ?? []).map(alt) };
  }

  /** Completions shape, for prompt (echo) and generated tokens; text_offset counts from `offset0`. */
  completionLogprobs(
    entries: Array<{ token: number; logprob?: number | null; topLogprobs?: TokenLogprob[] }>,
    offset0: number,
    withTop: boolean,
  ) {
    const tokens: string[] = [];
    const tokenLogprobs: Array<number | null> = [];
    const top: Array<Record<string, number> | null> = [];
    const offsets: number[] = [];
    let off = offset0;
    for (const e of entries) {
      const s = this.text(e.token);
      tokens.push(s);
      tokenLogprobs.push(e.logprob == null ? null : finite(e.logprob));
      offsets.push(off);
      if (!this.codec.isSpecial?.(e.token)) off += s.length;
      if (withTop) {
        if (e.logprob === null || !e.topLogprobs) top.push(null);
        else top.push(Object.fromEntries(e.topLogprobs.map((t) => [this.text(t.token), finite(t.logprob)])));
      }
    }
    return { tokens, token_logprobs: tokenLogprobs, top_logprobs: withTop ? top : null, text_offset: offsets };
  }
}

/** JSON has no -Infinity; OpenAI reports -9999 for impossible tokens. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : -9999;
}

export function promptEntries(p: PromptTokenLogprob[] | undefined) {
  return (p ?? []).map((e) => ({ token: e.token, logprob: e.logprob, topLogprobs: e.topLogprobs }));
}

export function usage(promptTokens: number, completionTokens: number) {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export function finishReason(r: 'stop' | 'length' | 'abort'): 'stop' | 'length' {
  return r === 'length' ? 'length' : 'stop';
}
