// Chat templates: the Jinja strings in tokenizer_config.json (or GGUF tokenizer.chat_template)
// rendered with @huggingface/jinja. That engine always lexes with trim_blocks and
// lstrip_blocks on and drops one trailing newline — the same settings transformers uses —
// so no extra whitespace handling is needed here. Rendering runs under a budget (steps, time,
// output size: template-budget.ts) because templates come with downloaded models.
import { Template } from '@huggingface/jinja';
import { FormatError, LimitError, SlmError } from '../errors.ts';
import { DEFAULT_TEMPLATE_BUDGET, renderWithBudget, type TemplateBudget } from './template-budget.ts';
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
  budget: TemplateBudget = { ...DEFAULT_TEMPLATE_BUDGET, ...opts.budget },
): string {
  const t = compile(template, file);
  try {
    const vars = {
      ...specialStrings,
      ...opts.extra,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    };
    return renderWithBudget(t, vars, budget);
  } catch (e) {
    if (e instanceof LimitError) throw e;
    if (e instanceof RangeError) {
      // Whatever the budget did not foresee (a string past V8's maximum length, a deep stack).
      throw new LimitError('chat_template', 0, `chat template: ${e.message}`);
    }
    // Templates call raise_exception() for conversations they reject (e.g. wrong role order).
    throw new SlmError('INVALID_ARGUMENT', `chat template: ${(e as Error).message}`, { cause: e });
  }
}
