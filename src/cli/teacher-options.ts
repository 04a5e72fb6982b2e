// Options shared by the commands that call a teacher (generation jobs, `slm worker`):
// an OpenAI-compatible endpoint, or the deterministic `echo` backend for dry runs.
import type { OptionSpec } from './command.ts';
import { SlmError } from '../errors.ts';
import { echoCompleter, endpointCompleter, type Completer } from '../queue/index.ts';

export const TEACHER_OPTIONS: Record<string, OptionSpec> = {
  endpoint: { type: 'string', valueName: 'url', description: 'OpenAI-compatible base URL of the teacher (e.g. http://127.0.0.1:8080/v1 from `slm serve`)' },
  model: { type: 'string', description: 'model name sent to the endpoint' },
  chat: { type: 'boolean', description: 'use /chat/completions (prompt as one user message) instead of /completions' },
  'api-key': { type: 'string', description: 'bearer token (default $OPENAI_API_KEY)' },
  backend: { type: 'string', description: '`endpoint` (default) or `echo` (deterministic dry run: echo:<sample>:<prompt>)' },
  'delay-ms': { type: 'string', description: 'echo backend: delay per prompt in ms' },
};

export function completerFromOptions(values: Record<string, unknown>): Completer {
  const backend = (values.backend as string | undefined) ?? 'endpoint';
  if (backend === 'echo') return echoCompleter(Number(values['delay-ms'] ?? 0));
  if (backend !== 'endpoint') throw new SlmError('INVALID_ARGUMENT', `--backend must be endpoint or echo, got '${backend}'`);
  const baseURL = values.endpoint as string | undefined;
  if (!baseURL) throw new SlmError('INVALID_ARGUMENT', '--endpoint <url> is required (or --backend echo)');
  return endpointCompleter({
    baseURL,
    model: (values.model as string | undefined) ?? 'default',
    chat: Boolean(values.chat),
    apiKey: (values['api-key'] as string | undefined) ?? process.env.OPENAI_API_KEY,
  });
}
