// The object `slm generate --json` prints: snake_case throughout, as OpenAI's API spells its
// fields, and every field documented here (the --json help lists GENERATE_JSON_FIELDS).
import type { GenerationStats } from '../generate/types.ts';

export const GENERATE_JSON_FIELDS =
  'text, tokens (ids), logprobs (one per token), finish_reason (stop|length|abort), prompt_tokens, ' +
  'stats {prompt_tokens, generated_tokens, prompt_tokens_per_second, generation_tokens_per_second, time_to_first_token_ms, peak_rss_mb}';

export function generateJson(r: { text: string; tokens: number[]; logprobs: number[]; finishReason: string; promptTokens: number; stats: GenerationStats }): Record<string, unknown> {
  const s = r.stats;
  return {
    text: r.text,
    tokens: r.tokens,
    logprobs: r.logprobs,
    finish_reason: r.finishReason,
    prompt_tokens: r.promptTokens,
    stats: {
      prompt_tokens: s.promptTokens,
      generated_tokens: s.generatedTokens,
      prompt_tokens_per_second: s.promptTokensPerSecond,
      generation_tokens_per_second: s.generationTokensPerSecond,
      time_to_first_token_ms: s.timeToFirstTokenMs,
      peak_rss_mb: s.peakRssMb,
    },
  };
}
