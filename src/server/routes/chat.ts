// POST /v1/chat/completions (with function tools: tools.ts)
import type { GenerateResult } from '../../generate/sequence-run.ts';
import { badRequest } from '../api-error.ts';
import { checkModel, type ServerContext } from '../context.ts';
import { resolveMaxTokens, samplingOptions, schemaFor, type Job } from '../engine.ts';
import { finishReason, LogprobFormatter, usage, type ChatLogprobEntry } from '../format.ts';
import { dropIgnoredParams } from '../ignored-params.ts';
import { parseBody } from '../schemas.ts';
import { chatToolRequest, type ChatToolRequest } from '../tool-schemas.ts';
import { FALLBACK_TOOL_FORMAT, newCallId, planTools, templateTools, toChatMessages, toolConstraint, ToolReplyParser, type ToolPlan } from '../tools.ts';
import { executeOnce, executeStream, newId, nowSeconds } from './execute.ts';
import { encodeChatBounded } from '../text-bounds.ts';
import { encodeImageChat, hasImageParts, refuseImagesIfTextOnly } from '../image-parts.ts';

export interface PreparedChat {
  promptIds: number[];
  jobs: Job[];
  schema: ReturnType<typeof schemaFor>;
  tools: ToolPlan | undefined;
}

/** Prompt and generation jobs for a validated chat request (shared with /v1/responses). */
export async function prepareChat(sc: ServerContext, req: ChatToolRequest, clientSignal?: AbortSignal): Promise<PreparedChat> {
  checkModel(sc, req.model);
  refuseImagesIfTextOnly(sc, req.messages);
  if (!sc.model.encodeChat) throw badRequest(`The model '${sc.model.name}' has no chat template; use /v1/completions.`, 'messages', 'no_chat_template');
  if (req.top_logprobs && !req.logprobs) throw badRequest('top_logprobs requires logprobs: true.', 'top_logprobs');
  if (req.max_tokens != null && req.max_completion_tokens != null && req.max_tokens !== req.max_completion_tokens) {
    throw badRequest('max_tokens and max_completion_tokens disagree; send one of them.', 'max_completion_tokens');
  }
  const tools = planTools(req, sc.model);
  const messages = toChatMessages(req.messages, tools, sc.model.toolFormat ?? FALLBACK_TOOL_FORMAT);
  const promptIds = hasImageParts(req.messages)
    ? await encodeImageChat(sc, req.messages, { tools: !!tools, signal: clientSignal })
    : await encodeChatBounded(sc, messages, clientSignal, tools && (sc.model.toolFormat?.inTemplate ?? false) ? { tools: templateTools(tools.tools) } : undefined);
  const maxTokens = resolveMaxTokens(promptIds.length, req.max_completion_tokens ?? req.max_tokens, sc.ctx, 'rest', 'messages');
  const schema = schemaFor(req.response_format);
  const n = req.n ?? 1;
  const topLogprobs = req.logprobs ? req.top_logprobs ?? 0 : 0;
  // The model's own chat stops (the fallback format's "\nUser:") apply on top of the request's.
  const requestStops = req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  const stop = sc.model.chatStop?.length ? [...requestStops, ...sc.model.chatStop] : req.stop;
  const constraint = tools && toolConstraint(tools, sc.model);
  const jobs = Array.from({ length: n }, (_, i) => {
    const opts = samplingOptions({ ...req, stop }, sc.model.vocabSize, i, maxTokens, topLogprobs, !!req.logprobs);
    return { promptIds, opts: constraint ? { ...opts, constraint: constraint() } : opts };
  });
  return { promptIds, jobs, schema, tools };
}

export async function chatCompletions(sc: ServerContext, body: unknown, clientSignal: AbortSignal): Promise<Response> {
  const req = parseBody(chatToolRequest, dropIgnoredParams(body, 'chat'));
  const { promptIds, jobs, schema, tools } = await prepareChat(sc, req, clientSignal);
  const fmt = new LogprobFormatter(sc.model.codec);
  const id = newId('chatcmpl');
  const created = nowSeconds();
  const base = { id, created, model: sc.model.name, system_fingerprint: null };
  const completionTokens = (rs: GenerateResult[]) => rs.reduce((a, r) => a + r.tokens.length, 0);
  const parsers = jobs.map(() => (tools ? new ToolReplyParser(tools.format.grammar, tools.mode) : undefined));
  const finish = (r: GenerateResult, i: number) => (parsers[i]?.isCall && r.finishReason !== 'length' ? 'tool_calls' : finishReason(r.finishReason));

  if (!req.stream) {
    const logprobs: ChatLogprobEntry[][] = jobs.map(() => []);
    const results = await executeOnce(sc, clientSignal, { jobs, run: { schema } }, (j, step) => {
      if (req.logprobs) logprobs[j].push(fmt.chatEntry(step));
    });
    return Response.json({
      ...base,
      object: 'chat.completion',
      choices: results.map((r, i) => {
        const p = parsers[i];
        p?.push(r.text);
        p?.end();
        const message = p?.isCall
          ? { role: 'assistant', content: null, tool_calls: [{ id: newCallId(), type: 'function', function: { name: p.name, arguments: p.arguments } }], refusal: null }
          : { role: 'assistant', content: r.text, refusal: null };
        return { index: i, message, logprobs: req.logprobs ? { content: logprobs[i], refusal: null } : null, finish_reason: finish(r, i) };
      }),
      usage: usage(promptIds.length, completionTokens(results)),
    });
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ ...base, object: 'chat.completion.chunk', choices, ...extra });
  // Tool replies stream as OpenAI streams them: the call's id, type and name in one delta, then its arguments in pieces.
  const sendText = (w: { send(d: unknown): void }, j: number, text: string, final: boolean) => {
    const p = parsers[j];
    const deltas = p ? (final ? [...p.push(text), ...p.end()] : p.push(text)) : text ? [{ content: text }] : [];
    for (const d of deltas) {
      const delta =
        'content' in d
          ? { content: d.content }
          : 'call' in d
            ? { tool_calls: [{ index: 0, id: newCallId(), type: 'function', function: { name: d.call, arguments: '' } }] }
            : { tool_calls: [{ index: 0, function: { arguments: d.arguments } }] };
      w.send(chunk([{ index: j, delta, logprobs: null, finish_reason: null }]));
    }
  };
  return executeStream(sc, clientSignal, { jobs, run: { schema } }, {
    start(w) {
      w.send(chunk(jobs.map((_, i) => ({ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }))));
    },
    step(w, j, step) {
      if (req.logprobs) {
        w.send(chunk([{ index: j, delta: { content: step.textDelta }, logprobs: { content: [fmt.chatEntry(step)], refusal: null }, finish_reason: null }]));
      } else sendText(w, j, step.textDelta, false);
    },
    end(w, results) {
      results.forEach((r, i) => {
        sendText(w, i, r.textTail, true);
        w.send(chunk([{ index: i, delta: {}, logprobs: null, finish_reason: finish(r, i) }]));
      });
      if (req.stream_options?.include_usage) w.send(chunk([], { usage: usage(promptIds.length, completionTokens(results)) }));
    },
  });
}
