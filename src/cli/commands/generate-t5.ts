// `slm generate <t5-model> -p TEXT`: text-to-text with an encoder-decoder. The same output as
// for decoders (streamed text, or with --json one object {text, tokens, logprobs,
// finish_reason, prompt_tokens, stats}); `tokens` are the decoder's generated ids without the
// start token and `prompt_tokens` counts the encoder input. --num-beams N runs beam search
// (length_penalty and early_stopping from generation_config.json); beams print when done.
// Without --temperature a T5 decodes greedily, as transformers does (unless do_sample is set).
import type { CommandIO } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { loadSeq2SeqLM } from '../../models/t5-load.ts';
import { beamSettings, streamText2Text, text2text } from '../../models/t5-generate.ts';
import type { SequenceOptions } from '../../generate/sequence-run.ts';
import type { ModelDType } from '../../models/load.ts';

export interface T5GenerateArgs {
  model: string;
  prompt: string;
  sampling: SequenceOptions;
  /** --temperature was given; otherwise T5 decodes greedily unless generation_config says do_sample. */
  temperatureGiven: boolean;
  load: { dtype?: ModelDType; threads?: number };
  numBeams?: string;
  json: boolean;
}

export async function runT5Generate(a: T5GenerateArgs, io: CommandIO): Promise<number> {
  let numBeams: number | undefined;
  if (a.numBeams !== undefined) {
    numBeams = Number(a.numBeams);
    if (!Number.isInteger(numBeams) || numBeams < 1) throw new SlmError('INVALID_ARGUMENT', `--num-beams must be a positive integer, got '${a.numBeams}'`);
  }
  const lm = await loadSeq2SeqLM(a.model, { ...a.load, signal: io.signal });
  try {
    const beams = beamSettings(lm, { numBeams });
    // transformers' generate() is greedy for T5 unless generation_config.json sets do_sample.
    if (!a.temperatureGiven && lm.generationConfig.do_sample !== true) a = { ...a, sampling: { ...a.sampling, temperature: 0 } };
    let text: string;
    let tokens: number[];
    let finish: string;
    let inputTokens: number;
    let stats;
    const logprobs: number[] = [];
    if (beams.numBeams > 1) {
      const r = await text2text(lm, a.prompt, { ...a.sampling, numBeams: beams.numBeams, signal: io.signal });
      ({ text, tokens, inputTokens, stats } = r);
      finish = r.finishReason;
      if (!a.json) io.stdout.write(text);
    } else {
      const s = await streamText2Text(lm, a.prompt, { ...a.sampling, signal: io.signal });
      for await (const step of s.generation) {
        logprobs.push(step.logprob ?? NaN);
        if (!a.json && step.textDelta) io.stdout.write(step.textDelta);
      }
      const r = await s.generation.done();
      await s.dispose();
      if (!a.json) io.stdout.write(r.textTail);
      ({ text, tokens } = r);
      finish = r.finishReason;
      inputTokens = s.inputTokens;
      stats = { ...r.stats, promptTokens: s.inputTokens };
    }
    if (a.json) {
      const out: Record<string, unknown> = { text, tokens, logprobs: beams.numBeams > 1 ? null : logprobs, finish_reason: finish, prompt_tokens: inputTokens, stats };
      if (beams.numBeams > 1) out.num_beams = beams.numBeams;
      io.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      io.stdout.write('\n');
      io.stderr.write(
        `[${finish}] ${inputTokens} input tokens, ${stats.generatedTokens} generated (${stats.generationTokensPerSecond.toFixed(1)} tok/s)${beams.numBeams > 1 ? `, ${beams.numBeams} beams` : ''}\n`,
      );
    }
    return finish === 'abort' ? 130 : 0;
  } finally {
    await lm.dispose();
  }
}
