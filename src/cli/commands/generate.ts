// `slm generate [model] -p TEXT`: continues a prompt, streaming the text to stdout (logs and
// speed to stderr), or with --json one object {text, tokens, logprobs, finish_reason, stats}.
// Without a model path the default model shipped with slmkit is used. Ctrl-C stops generation
// and keeps what was generated.
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { generate } from '../../generate/generate.ts';
import { codecFromTokenizer } from '../../generate/text-codec.ts';
import { loadCausalLM } from '../../models/load.ts';
import { isT5Model } from '../../models/t5-load.ts';
import { runT5Generate } from './generate-t5.ts';
import { loadFromFlags, modelAndRest, SAMPLING_OPTIONS, samplingFromFlags } from '../generation-options.ts';

const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with a model (streams the text)',
  usage: '[model] (-p TEXT | TEXT) [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop S] [--json]',
  options: {
    prompt: { type: 'string', short: 'p', description: 'the prompt (or give it as the last positional)', valueName: 'text' },
    ...SAMPLING_OPTIONS,
    json: { type: 'boolean', description: 'print one JSON object {text, tokens, logprobs, finish_reason, stats}' },
    'num-beams': { type: 'string', description: 'beam search with n beams (T5 models; default generation_config.json)', valueName: 'n' },
  },
  async run({ values, positionals }, io) {
    const flagPrompt = values.prompt as string | undefined;
    // With -p every positional must be the model; without it the text may stand alone.
    const { model, rest } = modelAndRest(positionals, flagPrompt === undefined);
    if (flagPrompt !== undefined && rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'give the prompt either with -p or as a positional, not both');
    const prompt = flagPrompt ?? rest.join(' ');
    if (prompt === '') throw new SlmError('INVALID_ARGUMENT', 'no prompt: slm generate [model] -p TEXT');
    const sampling = samplingFromFlags(values);
    const json = !!values.json;
    // Encoder-decoders (T5) are text-to-text: their own path (generate-t5.ts).
    if (await isT5Model(model)) return runT5Generate({ model, prompt, sampling, temperatureGiven: values.temperature !== undefined, load: loadFromFlags(values), numBeams: values['num-beams'] as string | undefined, json }, io);
    if (values['num-beams'] !== undefined) throw new SlmError('INVALID_ARGUMENT', '--num-beams is supported for T5 models only');

    const lm = await loadCausalLM(model, { ...loadFromFlags(values), signal: io.signal });
    try {
      const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
      const ids = codec.encode(prompt, { addSpecialTokens: true });
      if (ids.length >= lm.context) throw new SlmError('INVALID_ARGUMENT', `the prompt has ${ids.length} tokens but the context holds ${lm.context}`);
      const session = lm.createSession();
      const logprobs: number[] = [];
      const gen = generate(session, codec, ids, { ...sampling, maxTokens: Math.min(sampling.maxTokens!, lm.context - ids.length), signal: io.signal });
      for await (const step of gen) {
        logprobs.push(step.logprob);
        if (!json && step.textDelta) io.stdout.write(step.textDelta);
      }
      const r = await gen.done();
      await session.dispose();
      const finish = r.finishReason;
      if (json) {
        io.stdout.write(
          `${JSON.stringify({ text: r.text, tokens: r.tokens, logprobs, finish_reason: finish, prompt_tokens: ids.length, stats: r.stats })}\n`,
        );
      } else {
        io.stdout.write(`${r.textTail}\n`);
        const s = r.stats;
        io.stderr.write(
          `[${finish}] ${s.promptTokens} prompt tokens (${s.promptTokensPerSecond.toFixed(1)} tok/s), ` +
            `${s.generatedTokens} generated (${s.generationTokensPerSecond.toFixed(1)} tok/s), first token ${s.timeToFirstTokenMs.toFixed(0)} ms\n`,
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
