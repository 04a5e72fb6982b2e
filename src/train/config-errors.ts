// Run-config validation messages in words: a missing key says that it is missing and what it is
// for; an unknown key suggests the closest valid key (a typo, or the Hugging Face
// TrainingArguments / PEFT name of a setting: learning_rate -> lr); a wrong type says what was
// expected and what was given.

/** Valid keys at one level of the config, with their descriptions. */
export type KeysAt = (path: readonly PropertyKey[]) => Record<string, { description?: string }> | undefined;

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
  errors?: Issue[][];
}

/** Names users bring from Hugging Face (TrainingArguments, PEFT's LoraConfig) -> slmkit's key. */
const FAMILIAR_NAMES: Record<string, string> = {
  learning_rate: 'lr',
  max_steps: 'steps',
  per_device_train_batch_size: 'batchSize',
  train_batch_size: 'batchSize',
  gradient_accumulation_steps: 'gradAccum',
  max_seq_length: 'seqLen',
  seq_length: 'seqLen',
  block_size: 'seqLen',
  max_grad_norm: 'clipNorm',
  adam_beta1: 'beta1',
  adam_beta2: 'beta2',
  adam_epsilon: 'eps',
  lr_scheduler_type: 'schedule',
  output_dir: 'out',
  eval_steps: 'evalEvery',
  save_steps: 'checkpointEvery',
  save_total_limit: 'keepCheckpoints',
  resume_from_checkpoint: 'resume',
  model_name_or_path: 'model',
  train_file: 'data',
  rank: 'r',
  lora_r: 'r',
  lora_alpha: 'alpha',
  lora_dropout: 'dropout',
};

const normalize = (k: string) => k.toLowerCase().replace(/[_\-\s]/g, '');

/** Edit distance counting a swap of neighbours as one edit (stpes -> steps). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The valid key an unknown key most likely meant, if one is close enough. */
export function closestKey(unknown: string, valid: readonly string[]): string | undefined {
  const u = normalize(unknown);
  // Candidates: the valid keys themselves and the familiar names that map to a valid key.
  const candidates: [string, string][] = valid.map((k) => [normalize(k), k]);
  for (const [name, key] of Object.entries(FAMILIAR_NAMES)) if (valid.includes(key)) candidates.push([normalize(name), key]);
  let best: { key: string; d: number } | undefined;
  for (const [norm, key] of candidates) {
    const d = editDistance(u, norm);
    if (!best || d < best.d) best = { key, d };
  }
  if (best && best.d <= Math.max(1, Math.floor(u.length / 4))) return best.key;
  // A key cut short (warmup -> warmupSteps).
  return u.length >= 4 ? candidates.find(([norm]) => norm.startsWith(u))?.[1] : undefined;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

function given(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** One message per issue, each naming its key. */
export function describeConfigIssues(issues: readonly Issue[], raw: unknown, keysAt: KeysAt): string[] {
  return issues.map((i) => {
    const at = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      const valid = Object.keys(keysAt(i.path) ?? {});
      return (i.keys ?? [])
        .map((k) => {
          const guess = closestKey(k, valid);
          return `unknown key ${[...i.path, k].join('.')}${guess ? ` (did you mean ${[...i.path, guess].join('.')}?)` : ''}`;
        })
        .join('; ');
    }
    const value = valueAt(raw, i.path);
    if ((i.code === 'invalid_type' || i.code === 'invalid_union') && value === undefined && i.path.length > 0) {
      const key = String(i.path.at(-1));
      const what = keysAt(i.path.slice(0, -1))?.[key]?.description;
      return `${at} is missing: it is required${what ? ` (${what.replace(/\.$/, '')})` : ''}`;
    }
    if (i.code === 'invalid_type') return `${at || '(root)'}: expected ${i.expected}, got ${given(value)}`;
    if (i.code === 'invalid_union' && i.errors) {
      const expected = [...new Set(i.errors.flat().map((e) => e.expected).filter(Boolean))];
      if (expected.length) return `${at}: expected ${expected.join(' or ')}, got ${given(value)}`;
    }
    return `${at || '(root)'}: ${i.message}`;
  });
}
