// POST /v1/chat/completions
import type { GenerateResult } from '../../generate/sequence-run.ts';
import type { ChatMessage } from '../../tokenizer/types.ts';
import { badRequest } from '../api-error.ts';
import { checkModel, type ServerContext } from '../context.ts';
import { resolveMaxTokens, samplingOptions, schemaFor } from '../engine.ts';
import { finishReason, LogprobFormatter, usage, type ChatLogprobEntry } from '../format.ts';
import { chatRequest, parseBody } from '../schemas.ts';
import { executeOnce, executeStream, newId, nowSeconds } from './execute.ts';
import { encodeChatBounded } from '../text-bounds.ts';

export async function chatCompletions(sc: ServerContext, body: unknown, clientSignal: AbortSignal): Promise<Response> {
  const req = parseBody(chatRequest, body);
  checkModel(sc, req.model);
  if (!sc.model.encodeChat) throw badRequest(`The model '${sc.model.name}' has no chat template; use /v1/completions.`, 'messages', 'no_chat_template');
  if (req.top_logprobs && !req.logprobs) throw badRequest('top_logprobs requires logprobs: true.', 'top_logprobs');
  if (req.max_tokens != null && req.max_completion_tokens != null && req.max_tokens !== req.max_completion_tokens) {
    throw badRequest('max_tokens and max_completion_tokens disagree; send one of them.', 'max_completion_tokens');
  }
  const messages: ChatMessage[] = req.messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
    ...(m.name !== undefined ? { name: m.name } : {}),
  }));
  const promptIds = await encodeChatBounded(sc, messages, clientSignal);
  const maxTokens = resolveMaxTokens(promptIds.length, req.max_completion_tokens ?? req.max_tokens, sc.ctx, 'rest', 'messages');
  const schema = schemaFor(req.response_format);
  const n = req.n ?? 1;
  const topLogprobs = req.logprobs ? req.top_logprobs ?? 0 : 0;
  // The model's own chat stops (the fallback format's "\nUser:") apply on top of the request's.
  const requestStops = req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  const stop = sc.model.chatStop?.length ? [...requestStops, ...sc.model.chatStop] : req.stop;
  const jobs = Array.from({ length: n }, (_, i) => ({ promptIds, opts: samplingOptions({ ...req, stop }, sc.model.vocabSize, i, maxTokens, topLogprobs) }));
  const fmt = new LogprobFormatter(sc.model.codec);
  const id = newId('chatcmpl');
  const created = nowSeconds();
  const base = { id, created, model: sc.model.name, system_fingerprint: null };
  const completionTokens = (rs: GenerateResult[]) => rs.reduce((a, r) => a + r.tokens.length, 0);

  if (!req.stream) {
    const logprobs: ChatLogprobEntry[][] = jobs.map(() => []);
    const results = await executeOnce(sc, clientSignal, { jobs, run: { schema } }, (j, step) => {
      if (req.logprobs) logprobs[j].push(fmt.chatEntry(step));
    });
    return Response.json({
      ...base,
      object: 'chat.completion',
      choices: results.map((r, i) => ({
        index: i,
        message: { role: 'assistant', content: r.text, refusal: null },
        logprobs: req.logprobs ? { content: logprobs[i], refusal: null } : null,
        finish_reason: finishReason(r.finishReason),
      })),
      usage: usage(promptIds.length, completionTokens(results)),
    });
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ ...base, object: 'chat.completion.chunk', choices, ...extra });
  return executeStream(sc, clientSignal, { jobs, run: { schema } }, {
    start(w) {
      w.send(chunk(jobs.map((_, i) => ({ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }))));
    },
    step(w, j, step) {
      if (!step.textDelta && !req.logprobs) return;
      w.send(chunk([{ index: j, delta: { content: step.textDelta }, logprobs: req.logprobs ? { content: [fmt.chatEntry(step)], refusal: null } : null, finish_reason: null }]));
    },
    end(w, results) {
      results.forEach((r, i) => {
        if (r.textTail) w.send(chunk([{ index: i, delta: { content: r.textTail }, logprobs: null, finish_reason: null }]));
        w.send(chunk([{ index: i, delta: {}, logprobs: null, finish_reason: finishReason(r.finishReason) }]));
      });
      if (req.stream_options?.include_usage) w.send(chunk([], { usage: usage(promptIds.length, completionTokens(results)) }));
    },
  });
}
