// `slm chat [model]`: a terminal chat. Each turn renders the whole history through the model's
// chat template (or the documented fallback format) and generates on one session whose
// PrefixCache keeps the earlier turns' KV cache, so a turn feeds only its new tokens.
//
// Keys, as ollama users expect: Ctrl-C while a reply streams stops that reply; Ctrl-C at the
// prompt clears the line and never ends the conversation (it says how to quit); Ctrl-D or /bye
// quits. Lines starting with "/" are commands (HELP); an unknown one is reported, never sent to
// the model. --load/--save (and /load, /save) keep a conversation as JSON (chat-conversation.ts).
// On a terminal, readline runs in raw mode and reports Ctrl-C as a keypress ('SIGINT' on the
// interface), so it never reaches the process-wide handler that would end the command.
import { createInterface, type Interface } from 'node:readline';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { generate } from '../../generate/generate.ts';
import { PrefixCache } from '../../generate/prefix-cache.ts';
import { encodeChatTurn, loadChatModel, readChatImage, type ImageChatMessage } from '../chat-images.ts';
import type { RgbImage } from '../../vision/decode.ts';
import { loadConversation, saveConversation, withSystem } from '../chat-conversation.ts';
import { loadFromFlags, SAMPLING_OPTIONS, samplingFromFlags } from '../generation-options.ts';
import { adapterFromFlags, LORA_OPTION } from '../lora-option.ts';
import { PULL_OPTION, resolveModelArgument } from '../resolve-model.ts';

const HELP =
  'Commands: /image FILE attaches a picture to your next message (vision models), /reset clears the conversation, /save FILE and /load FILE keep it as JSON, /bye (or /exit) quits, /help. ' +
  'Ctrl-C stops a reply; Ctrl-D or /bye at the prompt quits.\n';

/** Ctrl-C at the prompt: clear what was typed, or say how to quit; either way, prompt again. */
function onPromptInterrupt(rl: Interface, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): void {
  const typed = rl.line !== '';
  rl.write(null, { ctrl: true, name: 'e' });
  rl.write(null, { ctrl: true, name: 'u' });
  io.stdout.write('\n');
  if (!typed) io.stderr.write('(Ctrl-D or /bye quits)\n');
  rl.prompt();
}

const chat: Command = {
  name: 'chat',
  summary: 'chat with a model in the terminal (multi-turn, streaming)',
  usage: '[model] [--image FILE] [--system TEXT] [--load FILE] [--save FILE] [--lora DIR] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]',
  options: {
    ...PULL_OPTION,
    image: { type: 'string', description: 'vision models (LLaVA): a picture for the first message (more with /image FILE)', valueName: 'file' },
    system: { type: 'string', short: 's', description: 'system prompt (replaces a loaded conversation’s)', valueName: 'text' },
    load: { type: 'string', description: 'start from a conversation saved as JSON {"messages": [{role, content}]}', valueName: 'file' },
    save: { type: 'string', description: 'write the conversation to this JSON file after every reply', valueName: 'file' },
    ...SAMPLING_OPTIONS,
    ...LORA_OPTION,
    verbose: { type: 'boolean', short: 'v', description: 'per turn, print to stderr how many prompt tokens were fed and the speed' },
  },
  async run({ values, positionals }, io) {
    const { model: path, rest } = await resolveModelArgument(positionals, { textAllowed: false, pull: !!values.pull, signal: io.signal });
    if (rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'slm chat takes at most one positional: the model');
    const sampling = samplingFromFlags(values);
    const system = values.system as string | undefined;
    const saveTo = values.save as string | undefined;
    const verbose = !!values.verbose;
    const interactive = !!(io.stdin as { isTTY?: boolean }).isTTY;
    let history: ImageChatMessage[] = withSystem(typeof values.load === 'string' ? loadConversation(values.load) : [], system);
    // /reset keeps the system prompt (given or loaded) and forgets the turns.
    const fresh = (): ImageChatMessage[] => history.filter((m) => m.role === 'system').slice(0, 1);

    const model = await loadChatModel(path, { ...loadFromFlags(values), adapter: await adapterFromFlags(values), signal: io.signal });
    // Pictures for the next user message (--image, /image FILE).
    let pending: RgbImage[] = typeof values.image === 'string' ? [await readChatImage(model, values.image)] : [];
    const session = await model.createSession();
    const cache = new PrefixCache(session);
    const stop = [...(typeof sampling.stop === 'string' ? [sampling.stop] : sampling.stop ?? []), ...model.chatStop];

    const rl = createInterface({ input: io.stdin, output: interactive ? io.stdout : undefined, terminal: interactive, prompt: '> ' });
    let reply: AbortController | undefined;
    rl.on('SIGINT', () => (reply ? reply.abort() : onPromptInterrupt(rl, io)));
    const onProgramAbort = () => {
      reply?.abort();
      rl.close();
    };
    io.signal.addEventListener('abort', onProgramAbort, { once: true });
    if (interactive) {
      io.stderr.write(`Chatting with ${model.name}${model.hasChatTemplate ? '' : ' (no chat template: plain "User:/Assistant:" format)'}. ${HELP}`);
      rl.prompt();
    }
    /** Runs a /command; false when it ends the chat. */
    const command = async (text: string): Promise<boolean> => {
      const [name, ...args] = text.split(/\s+/);
      const file = args.join(' ');
      if (name === '/bye' || name === '/exit' || name === '/quit') return false;
      if (name === '/image') {
        try {
          if (!file) throw new SlmError('INVALID_ARGUMENT', '/image needs a file name');
          const im = await readChatImage(model, file);
          pending.push(im);
          io.stderr.write(`(image ${im.width} × ${im.height} attached to your next message)\n`);
        } catch (e) {
          if (!(e instanceof SlmError)) throw e;
          io.stderr.write(`(${e.message})\n`);
        }
      } else if (name === '/reset' || name === '/clear') {
        history = fresh();
        pending = [];
        io.stderr.write('(conversation cleared)\n');
      } else if (name === '/help' || name === '/?') io.stderr.write(HELP);
      else if ((name === '/save' || name === '/load') && !file) io.stderr.write(`(${name} needs a file name)\n`);
      else if (name === '/save') {
        saveConversation(file, history);
        io.stderr.write(`(saved ${history.length} messages to ${file})\n`);
      } else if (name === '/load') {
        try {
          history = loadConversation(file);
          io.stderr.write(`(loaded ${history.length} messages from ${file})\n`);
        } catch (e) {
          if (!(e instanceof SlmError)) throw e;
          io.stderr.write(`(${e.message})\n`);
        }
      } else io.stderr.write(`(unknown command ${name}: not sent to the model; /help lists the commands)\n`);
      return true;
    };

    try {
      for await (const line of rl) {
        const text = line.trim();
        if (text.startsWith('/')) {
          if (!(await command(text))) break;
        } else if (text !== '') {
          const turn: ImageChatMessage[] = [...history, { role: 'user', content: line, ...(pending.length ? { images: pending } : {}) }];
          pending = [];
          const ids = await encodeChatTurn(model, turn, io.signal);
          const room = model.contextLength - ids.length;
          if (room <= 0) {
            io.stderr.write(`(the conversation has ${ids.length} tokens, the context holds ${model.contextLength}: /reset to start over)\n`);
          } else {
            const fed = ids.length - Math.min(cache.commonPrefix(0, ids), ids.length - 1);
            reply = new AbortController();
            const signal = AbortSignal.any([reply.signal, io.signal]);
            const gen = generate(session, model.codec, ids, { ...sampling, stop, maxTokens: Math.min(sampling.maxTokens ?? room, room), cache, signal });
            // The space a model writes after "Assistant:" (or a template's header) is not part of the reply.
            let started = false;
            const show = (delta: string) => {
              const out = started ? delta : delta.trimStart();
              if (out) io.stdout.write(out);
              started ||= out !== '';
            };
            for await (const step of gen) show(step.textDelta);
            const r = await gen.done();
            reply = undefined;
            show(r.textTail);
            io.stdout.write('\n');
            if (r.finishReason === 'abort') io.stderr.write('(reply stopped)\n');
            // The reply as shown (even a stopped one) is what the next turn's template renders.
            history = [...turn, { role: 'assistant', content: r.text.trim() }];
            if (saveTo) saveConversation(saveTo, history);
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
