// `slm chat [model]`: a terminal chat. Each turn renders the whole history through the model's
// chat template (or the documented fallback format) and generates on one session whose
// PrefixCache keeps the earlier turns' KV cache, so a turn feeds only its new tokens.
//
// Keys: Ctrl-C while a reply streams stops that reply; Ctrl-C or Ctrl-D at the prompt exits.
// Lines starting with "/" are commands: /reset (forget the conversation), /exit.
// On a terminal, readline runs in raw mode and reports Ctrl-C as a keypress ('SIGINT' on the
// interface), so it never reaches the process-wide handler that would end the command.
import { createInterface } from 'node:readline';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { generate } from '../../generate/generate.ts';
import { PrefixCache } from '../../generate/prefix-cache.ts';
import { loadServedModel } from '../../server/load-model.ts';
import type { ChatMessage } from '../../tokenizer/types.ts';
import { loadFromFlags, modelAndRest, SAMPLING_OPTIONS, samplingFromFlags } from '../generation-options.ts';

const HELP = 'Commands: /reset clears the conversation, /exit quits. Ctrl-C stops a reply; Ctrl-C or Ctrl-D at the prompt quits.\n';

const chat: Command = {
  name: 'chat',
  summary: 'chat with a model in the terminal (multi-turn, streaming)',
  usage: '[model] [--system TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]',
  options: {
    system: { type: 'string', short: 's', description: 'system prompt', valueName: 'text' },
    ...SAMPLING_OPTIONS,
    verbose: { type: 'boolean', short: 'v', description: 'per turn, print to stderr how many prompt tokens were fed and the speed' },
  },
  async run({ values, positionals }, io) {
    const { model: path, rest } = modelAndRest(positionals, false);
    if (rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'slm chat takes at most one positional: the model');
    const sampling = samplingFromFlags(values);
    const system = values.system as string | undefined;
    const verbose = !!values.verbose;
    const interactive = !!(io.stdin as { isTTY?: boolean }).isTTY;

    const model = await loadServedModel(path, { ...loadFromFlags(values), signal: io.signal });
    const session = await model.createSession();
    const cache = new PrefixCache(session);
    const stop = [...(typeof sampling.stop === 'string' ? [sampling.stop] : sampling.stop ?? []), ...model.chatStop];
    const fresh = (): ChatMessage[] => (system !== undefined ? [{ role: 'system', content: system }] : []);
    let history = fresh();

    const rl = createInterface({ input: io.stdin, output: interactive ? io.stdout : undefined, terminal: interactive, prompt: '> ' });
    let reply: AbortController | undefined;
    // Ctrl-C: stop the reply in progress, or quit at the prompt.
    rl.on('SIGINT', () => {
      if (reply) reply.abort();
      else rl.close();
    });
    const onProgramAbort = () => {
      reply?.abort();
      rl.close();
    };
    io.signal.addEventListener('abort', onProgramAbort, { once: true });
    if (interactive) {
      io.stderr.write(`Chatting with ${model.name}${model.hasChatTemplate ? '' : ' (no chat template: plain "User:/Assistant:" format)'}. ${HELP}`);
      rl.prompt();
    }

    try {
      for await (const line of rl) {
        const text = line.trim();
        if (text === '/exit' || text === '/quit') break;
        if (text === '/reset') {
          history = fresh();
          io.stderr.write('(conversation cleared)\n');
        } else if (text === '/help') {
          io.stderr.write(HELP);
        } else if (text !== '') {
          const turn = [...history, { role: 'user', content: line }];
          const ids = model.encodeChat(turn);
          const room = model.contextLength - ids.length;
          if (room <= 0) {
            io.stderr.write(`(the conversation has ${ids.length} tokens, the context holds ${model.contextLength}: /reset to start over)\n`);
          } else {
            const fed = ids.length - Math.min(cache.commonPrefix(0, ids), ids.length - 1);
            reply = new AbortController();
            const signal = AbortSignal.any([reply.signal, io.signal]);
            const gen = generate(session, model.codec, ids, { ...sampling, stop, maxTokens: Math.min(sampling.maxTokens ?? room, room), cache, signal });
            for await (const step of gen) if (step.textDelta) io.stdout.write(step.textDelta);
            const r = await gen.done();
            reply = undefined;
            io.stdout.write(`${r.textTail}\n`);
            if (r.finishReason === 'abort') io.stderr.write('(reply stopped)\n');
            // The reply as shown (even a stopped one) is what the next turn's template renders.
            history = [...turn, { role: 'assistant', content: r.text.trim() }];
            if (verbose) {
              const s = r.stats;
              io.stderr.write(`[fed ${fed} of ${ids.length} prompt tokens; ${s.generatedTokens} generated at ${s.generationTokensPerSecond.toFixed(1)} tok/s; ${r.finishReason}]\n`);
            }
          }
        }
        if (io.signal.aborted) break;
        if (interactive) rl.prompt();
      }
    } finally {
      io.signal.removeEventListener('abort', onProgramAbort);
      rl.close();
      await session.dispose();
      await model.dispose();
    }
    if (interactive) io.stdout.write('\n');
    return 0;
  },
};

export default chat;
