// Prompt erasure (Orca 2 §3, §4.1): the teacher answered under a strategy-specific system
// message; the student's example keeps the user task and the teacher's answer but gets the
// generic system message, so it must learn to pick the strategy itself.
import { SlmError } from '../../errors.ts';
import type { ChatTurn } from './chatml.ts';
import { ORCA_GENERIC_SYSTEM } from './strategies.ts';

/** Replaces every system message by `generic` (adds one in front when there is none). */
export function eraseSystemPrompt(messages: readonly ChatTurn[], generic = ORCA_GENERIC_SYSTEM): ChatTurn[] {
  if (!messages.some((m) => m.role === 'assistant')) throw new SlmError('INVALID_ARGUMENT', 'prompt erasure needs a conversation with an assistant turn');
  const rest = messages.filter((m) => m.role !== 'system').map((m) => ({ ...m }));
  return [{ role: 'system', content: generic }, ...rest];
}
