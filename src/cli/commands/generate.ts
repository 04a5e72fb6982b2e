// `slm generate [model] -p TEXT`: continues a prompt, streaming the text to stdout (logs and
// speed to stderr), or with --json one object (fields: ../generate-json.ts). Without a model
// the default model shipped with slmkit is used (resolve-model.ts: the rule every command
// follows). `-p ''` samples from BOS alone. Ctrl-C stops generation and keeps what was generated.
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { encodePrompt } from '../../generate/encode-prompt.ts';
import { codecFromTokenizer } from '../../generate/text-codec.ts';
import { capMaxTokens, loadFromFlags, SAMPLING_OPTIONS, samplingFromFlags } from '../generation-options.ts';
import { GENERATE_JSON_FIELDS, generateJson } from '../generate-json.ts';
import { adapterFromFlags, LORA_OPTION } from '../lora-option.ts';
import { DECODING_METHOD_OPTIONS, loadDecodingTarget, startGeneration } from '../decoding-methods.ts';
import { PULL_OPTION, resolveModelArgument } from '../resolve-model.ts';
import { isT5Model } from '../../models/t5-load.ts';
import { runT5Generate } from './generate-t5.ts';
import { isLlavaModel, runLlavaGenerate } from './generate-image.ts';

const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with a model (streams the text)',
  usage: '[model] (-p TEXT | TEXT) [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop S] [--lora DIR] [--json]',
  options: {
    ...PULL_OPTION,
    prompt: { type: 'string', short: 'p', description: "the prompt (or give it as the last positional); -p '' samples from BOS when the tokenizer adds one", valueName: 'text' },
    ...SAMPLING_OPTIONS,
    ...LORA_OPTION,
    ...DECODING_METHOD_OPTIONS,
    json: { type: 'boolean', description: `print one JSON object: ${GENERATE_JSON_FIELDS}` },
    'num-beams': { type: 'string', description: 'beam search with n beams (T5 models; default generation_config.json)', valueName: 'n' },
    image: { type: 'string', multiple: true, description: 'an image (JPEG/PNG) to ask about (LLaVA-Phi models)', valueName: 'file' },
  },
  async run({ values, positionals }, io) {
    const flagPrompt = values.prompt as string | undefined;
    // With -p every positional must be the model; without it the text may stand alone.
    const { model, rest, isDefault } = await resolveModelArgument(positionals, { textAllowed: flagPrompt === undefined, pull: !!values.pull, signal: io.signal });
    // Said on stderr, so a mistyped model name that became prompt text does not go unnoticed.
    if (isDefault) io.stderr.write(`note: no model named, using the default model (${model})${rest.length ? `; the prompt is ${JSON.stringify(rest.join(' '))}` : ''}\n`);
    if (flagPrompt !== undefined && rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'give the prompt either with -p or as a positional, not both');
    if (flagPrompt === undefined && rest.length === 0) throw new SlmError('INVALID_ARGUMENT', "no prompt: slm generate [model] -p TEXT (-p '' samples from BOS)");
    const prompt = flagPrompt ?? rest.join(' ');
    const sampling = samplingFromFlags(values);
    const json = !!values.json;
    // Encoder-decoders (T5) are text-to-text: their own path (generate-t5.ts).
    if (await isT5Model(model)) return runT5Generate({ model, prompt, sampling, temperatureGiven: values.temperature !== undefined, load: loadFromFlags(values), numBeams: values['num-beams'] as string | undefined, json }, io);
    // Vision-language models (LLaVA-Phi): their own path (generate-image.ts).
    const images = (values.image as string[] | undefined) ?? [];
    if (images.length || (await isLlavaModel(model))) {
      if (!(await isLlavaModel(model))) throw new SlmError('INVALID_ARGUMENT', `--image needs a vision-language model (llava_phi / llava); ${model} is text-only`);
      const l = loadFromFlags(values);
      return runLlavaGenerate({ model, prompt, images, maxTokens: sampling.maxTokens, temperature: values.temperature !== undefined ? sampling.temperature : 0, seed: sampling.seed, json, load: { threads: l.threads, dtype: l.dtype === 'q4' || l.dtype === 'q8' ? l.dtype : l.dtype === 'f16' ? 'float16' : 'float32' } }, io);
    }
    if (values['num-beams'] !== undefined) throw new SlmError('INVALID_ARGUMENT', '--num-beams is supported for T5 models only');

    const loadOpts = { ...loadFromFlags(values), signal: io.signal };
    const lm = await loadDecodingTarget(model, values, loadOpts, await adapterFromFlags(values));
    try {
      const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
      const ids = encodePrompt(codec, prompt);
      if (ids.length >= lm.context) throw new SlmError('INVALID_ARGUMENT', `the prompt has ${ids.length} tokens but the context holds ${lm.context}`);
      const maxTokens = capMaxTokens(values, sampling.maxTokens!, lm.context - ids.length, io.stderr);
      const logprobs: number[] = [];
      const method = await startGeneration(lm, codec, ids, { ...sampling, maxTokens, signal: io.signal }, values, loadOpts);
      const gen = method.generation;
      for await (const step of gen) {
        logprobs.push(step.logprob ?? NaN);
        if (!json && step.textDelta) io.stdout.write(step.textDelta);
      }
      const r = await gen.done();
      await method.dispose();
      const finish = r.finishReason;
      if (json) {
        io.stdout.write(`${JSON.stringify(generateJson({ ...r, logprobs, promptTokens: ids.length }))}\n`);
      } else {
        io.stdout.write(`${r.textTail}\n`);
        const s = r.stats;
        io.stderr.write(
          `[${finish}] ${s.promptTokens} prompt tokens (${s.promptTokensPerSecond.toFixed(1)} tok/s), ` +
            `${s.generatedTokens} generated (${s.generationTokensPerSecond.toFixed(1)} tok/s), first token ${s.timeToFirstTokenMs.toFixed(0)} ms` +
            (r.speculative ? `; drafts accepted ${r.speculative.accepted}/${r.speculative.proposed} in ${r.speculative.targetCalls} verification steps` : '') +
            '\n',
        );
      }
      // Ctrl-C ends generation early but cleanly (the partial text is printed); 130 tells scripts.
      return finish === 'abort' ? 130 : 0;
    } finally {
      await lm.dispose();
    }
  },
};

export default generateCommand;
