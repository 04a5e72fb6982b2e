// The error when a run cannot resume because its settings changed: every changed setting with
// its old and new value, and what to set to resume. The common case, extending a finished run
// with more steps (`--resume --steps N`), changes only the learning-rate schedule that is
// derived from steps (decaySteps, warmupSteps default from it); the message then names the
// exact keys and values that keep the original schedule, and what that means for the rate.
import { SlmError } from '../errors.ts';

type Json = Record<string, unknown>;

/** Dotted keys whose values differ (the schedule object compared key by key). */
function changedKeys(before: Json, after: Json): { key: string; from: unknown; to: unknown }[] {
  const out: { key: string; from: unknown; to: unknown }[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const [a, b] = [before[k], after[k]];
    if (k === 'schedule' && a && b && typeof a === 'object' && typeof b === 'object') {
      for (const c of changedKeys(a as Json, b as Json)) out.push({ ...c, key: `schedule.${c.key}` });
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ key: k, from: a, to: b });
  }
  return out;
}

const FLAG_OF: Record<string, string> = { decaySteps: '--decay-steps', warmupSteps: '--warmup-steps' };

export function resumeMismatchError(dir: string, before: Json | undefined, after: Json): SlmError {
  const changes = changedKeys(before ?? {}, after);
  const show = (v: unknown) => JSON.stringify(v);
  const list = changes.map((c) => `${c.key}: ${show(c.from)} -> ${show(c.to)}`).join(', ') || 'config hash differs';
  let advice = '';
  const schedule = changes.filter((c) => c.key.startsWith('schedule.')).map((c) => ({ ...c, key: c.key.slice('schedule.'.length) }));
  const others = changes.filter((c) => !c.key.startsWith('schedule.'));
  if (others.length) advice += ` Set ${others.map((c) => `${c.key} back to ${show(c.from)}`).join(', ')} to resume this run.`;
  if (schedule.length) {
    const keep = schedule.filter((c) => c.key === 'decaySteps' || c.key === 'warmupSteps');
    // lr also shows at the top level; kind is the `schedule` key, minLr its own key.
    const rest = schedule.filter((c) => !keep.includes(c) && !others.some((o) => o.key === c.key)).map((c) => ({ ...c, key: c.key === 'kind' ? 'schedule' : c.key }));
    if (keep.length) {
      const old = (before?.schedule ?? {}) as Json;
      advice +=
        ` The learning-rate schedule is planned from steps: to extend the run with more steps, keep the original plan with ` +
        `${keep.map((c) => `"${c.key}": ${show(c.from)}`).join(' and ')} in the config (flags ${keep.map((c) => `${FLAG_OF[c.key]} ${show(c.from)}`).join(' ')}); ` +
        `the learning rate then stays at minLr (${show(old.minLr)}) after step ${show(old.decaySteps)}. ` +
        'To decay over the longer run instead, start a new run in another out folder with model set to this run\'s output.';
    }
    if (rest.length) advice += ` Set ${rest.map((c) => `${c.key} back to ${show(c.from)}`).join(', ')} to resume.`;
  }
  return new SlmError('INVALID_ARGUMENT', `cannot resume from ${dir}: the run's settings changed (${list}).${advice}`);
}
