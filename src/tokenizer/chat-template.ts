// Chat templates: the Jinja strings in tokenizer_config.json (or GGUF tokenizer.chat_template)
// rendered with @huggingface/jinja. That engine always lexes with trim_blocks and
// lstrip_blocks on and drops one trailing newline — the same settings transformers uses —
// so no extra whitespace handling is needed here.
import { Template } from '@huggingface/jinja';
import { FormatError, SlmError } from '../errors.ts';
import type { ChatMessage, ChatTemplateOptions } from './types.ts';
import type { TokenizerConfig } from './tokenizer-json.ts';

/** Named templates from a config: a single string is "default". */
export function chatTemplatesOf(raw: TokenizerConfig['chat_template']): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof raw === 'string') out.set('default', raw);
  else if (Array.isArray(raw)) {
    for (const t of raw) if (t && typeof t.name === 'string' && typeof t.template === 'string') out.set(t.name, t.template);
  }
  return out;
}

const compiled = new Map<string, Template>();

function compile(source: string, file: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new FormatError(file, 'chat_template', `cannot parse the Jinja template: ${(e as Error).message}`, { cause: e });
    }
    if (compiled.size > 32) compiled.clear(); // a handful of models per process; keep it bounded
    compiled.set(source, t);
  }
  return t;
}

export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  opts: ChatTemplateOptions,
  specialStrings: Record<string, string | undefined>,
  file: string,
): string {
  const t = compile(template, file);
  try {
    return t.render({
      ...specialStrings,
      ...opts.extra,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    });
  } catch (e) {
    // Templates call raise_exception() for conversations they reject (e.g. wrong role order).
    throw new SlmError('INVALID_ARGUMENT', `chat template: ${(e as Error).message}`, { cause: e });
  }
}
