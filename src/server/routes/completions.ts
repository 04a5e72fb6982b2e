// POST /v1/completions (legacy text completions, with echo and prompt logprobs for scoring).
import { badRequest } from '../api-error.ts';
import { checkModel, type ServerContext } from '../context.ts';
import { resolveMaxTokens, samplingOptions, schemaFor, type Job } from '../engine.ts';
import { finishReason, LogprobFormatter, promptEntries, usage } from '../format.ts';
import { completionRequest, parseBody } from '../schemas.ts';
import { dropIgnoredParams } from '../ignored-params.ts';
import type { GenerationStep } from '../../generate/types.ts';
import { EMPTY_PROMPT_WITHOUT_BOS } from '../../generate/encode-prompt.ts';
import { executeOnce, executeStream, newId, nowSeconds } from './execute.ts';
import { encodeTexts } from '../text-bounds.ts';

export async function completions(sc: ServerContext, body: unknown, clientSignal: AbortSignal): Promise<Response> {
  const req = parseBody(completionRequest, dropIgnoredParams(body, 'completions'));
  checkModel(sc, req.model);
  const n = req.n ?? 1;
  if (req.best_of != null && req.best_of !== n) throw badRequest('best_of different from n is not supported.', 'best_of', 'unsupported_parameter');
  const codec = sc.model.codec;
  // Normalise the four prompt forms into a list of (text, ids).
  const raw = req.prompt;
  const prompts: Array<{ text: string; ids: number[] }> = [];
  if (typeof raw !== 'string' && typeof raw[0] !== 'number' && raw.length * n > 64) throw badRequest('At most 64 completions (prompts × n) per request.', 'n');
  if (typeof raw === 'string' || typeof raw[0] === 'string') {
    const texts = typeof raw === 'string' ? [raw] : (raw as string[]);
    const ids = await encodeTexts(sc, texts, { addSpecialTokens: true, param: 'prompt', signal: clientSignal });
    texts.forEach((text, i) => prompts.push({ text, ids: ids[i] }));
  } else if (typeof raw[0] === 'number') prompts.push({ text: '', ids: raw as number[] });
  else for (const ids of raw as number[][]) prompts.push({ text: '', ids });
  for (const p of prompts) {
    // An empty text is [BOS] (unconditional sampling, as llama.cpp's server does) when the
    // tokenizer adds BOS; with no tokens at all there is nothing to condition on.
    if (p.ids.length === 0 && typeof raw === 'string') throw badRequest(`${EMPTY_PROMPT_WITHOUT_BOS}.`, 'prompt', 'empty_prompt');
    if (p.ids.length === 0) throw badRequest(`A prompt in the list has no tokens (${EMPTY_PROMPT_WITHOUT_BOS}).`, 'prompt', 'empty_prompt');
    for (const id of p.ids) if (id >= sc.model.vocabSize) throw badRequest(`prompt token ${id} is outside the vocabulary (0..${sc.model.vocabSize - 1}).`, 'prompt');
    if (!p.text && p.ids.length) p.text = codec.decode(p.ids, { skipSpecialTokens: true });
  }
  if (prompts.length * n > 64) throw badRequest('At most 64 completions (prompts × n) per request.', 'n');
  const echo = !!req.echo;
  const k = req.logprobs ?? undefined;
  const wantLogprobs = k !== undefined && k !== null;
  if (req.stream && echo && wantLogprobs) throw badRequest('echo with logprobs is only supported without stream.', 'echo', 'unsupported_parameter');
  const schema = schemaFor(req.response_format);
  const jobs: Job[] = [];
  prompts.forEach((p) => {
    const maxTokens = resolveMaxTokens(p.ids.length, req.max_tokens, sc.ctx, 16, 'prompt');
    for (let j = 0; j < n; j++) jobs.push({ promptIds: p.ids, opts: samplingOptions(req, sc.model.vocabSize, jobs.length, maxTokens, k ?? 0, wantLogprobs) });
    // Scoring requests (echo + logprobs + max_tokens 1, as lm-eval sends) must get exactly one
    // generated entry after the prompt's, even when that token is EOS (vLLM reports it too).
    if (echo && wantLogprobs && maxTokens === 1) for (const job of jobs.slice(-n)) job.opts.stopTokenIds = [];
  });
  const promptOf = (job: number) => prompts[Math.floor(job / n)];
  const run = { schema, promptLogprobs: echo && wantLogprobs };
  const fmt = new LogprobFormatter(codec);
  const base = { id: newId('cmpl'), created: nowSeconds(), model: sc.model.name, system_fingerprint: null };
  const promptTokens = prompts.reduce((a, p) => a + p.ids.length, 0);

  if (!req.stream) {
    const steps: GenerationStep[][] = jobs.map(() => []);
    const results = await executeOnce(sc, clientSignal, { jobs, run }, (j, s) => steps[j].push(s));
    return Response.json({
      ...base,
      object: 'text_completion',
      choices: results.map((r, i) => {
        const prefix = echo ? promptOf(i).text : '';
        const entries = [...(echo && wantLogprobs ? promptEntries(r.promptLogprobs) : []), ...steps[i]];
        return {
          index: i,
          text: prefix + r.text,
          logprobs: wantLogprobs ? fmt.completionLogprobs(entries, 0, k! > 0) : null,
          finish_reason: finishReason(r.finishReason),
        };
      }),
      usage: usage(promptTokens, results.reduce((a, r) => a + r.tokens.length, 0)),
    });
  }

  const offsets = jobs.map((_, i) => (echo ? promptOf(i).text.length : 0));
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ ...base, object: 'text_completion', choices, ...extra });
  return executeStream(sc, clientSignal, { jobs, run }, {
    start(w) {
      if (echo) jobs.forEach((_, i) => w.send(chunk([{ index: i, text: promptOf(i).text, logprobs: null, finish_reason: null }])));
    },
    step(w, j, step) {
      if (!step.textDelta && !wantLogprobs) return;
      const lp = wantLogprobs ? fmt.completionLogprobs([step], offsets[j], k! > 0) : null;
      offsets[j] += step.textDelta.length;
      w.send(chunk([{ index: j, text: step.textDelta, logprobs: lp, finish_reason: null }]));
    },
    end(w, results) {
      results.forEach((r, i) => {
        w.send(chunk([{ index: i, text: r.textTail, logprobs: null, finish_reason: finishReason(r.finishReason) }]));
      });
      if (req.stream_options?.include_usage) w.send(chunk([], { usage: usage(promptTokens, results.reduce((a, r) => a + r.tokens.length, 0)) }));
    },
  });
}
