// /v1/models, /v1/embeddings, /tokenize, /detokenize.
import { ApiError, badRequest } from '../api-error.ts';
import { admit, checkModel, requestSignal, type ServerContext } from '../context.ts';
import { detokenizeRequest, embeddingRequest, parseBody, tokenizeRequest } from '../schemas.ts';
import { usage } from '../format.ts';
import { nowSeconds } from './execute.ts';
import { checkEmbeddingInputCount, checkEmbeddingTokens, encodeForTokenizeRoute, encodeTexts } from '../text-bounds.ts';
import { shortenEmbeddings } from './embedding-dimensions.ts';

const startedAt = nowSeconds();

export function listModels(sc: ServerContext): Response {
  return Response.json({
    object: 'list',
    data: [{ id: sc.model.name, object: 'model', created: sc.model.created ?? startedAt, owned_by: 'slmkit', context_length: sc.ctx }],
  });
}

export async function embeddings(sc: ServerContext, body: unknown, clientSignal: AbortSignal): Promise<Response> {
  const req = parseBody(embeddingRequest, body);
  checkModel(sc, req.model);
  if (!sc.model.embed) throw badRequest(`The model '${sc.model.name}' does not provide embeddings.`, 'model', 'embeddings_unsupported');
  const raw = req.input;
  checkEmbeddingInputCount(sc, typeof raw === 'string' || typeof raw[0] === 'number' ? 1 : raw.length);
  const encode = (ts: string[]) => encodeTexts(sc, ts, { addSpecialTokens: true, param: 'input', signal: clientSignal });
  const inputs: number[][] =
    typeof raw === 'string'
      ? await encode([raw])
      : typeof raw[0] === 'string'
        ? await encode(raw as string[])
        : typeof raw[0] === 'number'
          ? [raw as number[]]
          : (raw as number[][]);
  checkEmbeddingTokens(sc, inputs);
  inputs.forEach((ids) => {
    if (ids.length === 0) throw badRequest('An embedding input is empty.', 'input');
    if (ids.length > sc.ctx) throw badRequest(`An input has ${ids.length} tokens; the context length is ${sc.ctx}.`, 'input', 'context_length_exceeded');
    for (const id of ids) if (id >= sc.model.vocabSize) throw badRequest(`input token ${id} is outside the vocabulary.`, 'input');
  });
  const rs = requestSignal(clientSignal, sc.requestTimeoutMs);
  try {
    const release = await admit(sc, rs.signal, rs.timedOut);
    let vectors: number[][];
    try {
      vectors = await sc.model.embed(inputs, rs.signal);
    } finally {
      release();
    }
    if (req.dimensions !== undefined) vectors = shortenEmbeddings(vectors, req.dimensions, sc.model.name);
    const tokens = inputs.reduce((a, ids) => a + ids.length, 0);
    const encode = (v: number[]) => (req.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v);
    return Response.json({
      object: 'list',
      data: vectors.map((v, i) => ({ object: 'embedding', index: i, embedding: encode(v) })),
      model: sc.model.name,
      usage: { prompt_tokens: usage(tokens, 0).prompt_tokens, total_tokens: tokens },
    });
  } finally {
    rs.dispose();
  }
}

export async function tokenize(sc: ServerContext, body: unknown, signal?: AbortSignal): Promise<Response> {
  const req = parseBody(tokenizeRequest, body);
  if (req.model !== undefined) checkModel(sc, req.model);
  const text = req.content ?? req.prompt;
  if (text === undefined) throw badRequest("Send the text as 'content'.", 'content');
  const tokens = await encodeForTokenizeRoute(sc, text, req.add_special ?? req.add_special_tokens ?? false, signal);
  return Response.json({ tokens, count: tokens.length, max_model_len: sc.ctx });
}

export function detokenize(sc: ServerContext, body: unknown): Response {
  const req = parseBody(detokenizeRequest, body);
  if (req.model !== undefined) checkModel(sc, req.model);
  for (const id of req.tokens) if (id >= sc.model.vocabSize) throw new ApiError(400, `token ${id} is outside the vocabulary (0..${sc.model.vocabSize - 1}).`, 'invalid_request_error', 'tokens');
  const text = sc.model.codec.decode(req.tokens, { skipSpecialTokens: false });
  // `content` (llama.cpp) and `prompt` (vLLM, read by lm-eval's remote tokenizer).
  return Response.json({ content: text, prompt: text });
}

/** GET /tokenizer_info (vLLM's route; lm-eval's local-completions probes it for `eos_token`). */
export function tokenizerInfo(sc: ServerContext): Response {
  const info = sc.model.tokenizerInfo;
  if (info) return Response.json(info);
  const eos = sc.model.codec.eosIds[0];
  return Response.json({ bos_token: null, eos_token: eos === undefined ? null : sc.model.codec.decode([eos], { skipSpecialTokens: false }), pad_token: null, chat_template: null });
}
