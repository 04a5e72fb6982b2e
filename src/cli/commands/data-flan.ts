// `slm data flan --out mix.jsonl`: a FLAN instruction mixture from the shared datasets as
// chat JSONL ({"messages": [user, assistant], dataset, cluster, format, template}), which
// `slm train` reads (loss on the assistant turn), or prompt/response pairs with --as pair.
import { resolve } from 'node:path';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { FLAN_CLUSTERS, FLAN_DATASETS, buildMixture, heldOutClusters, loadFlanDataset, trainingDatasets, type FlanFormat, type FlanRecord } from '../../methods/flan/index.ts';

function parseFormats(s: string): Partial<Record<FlanFormat, number>> {
  const out: Partial<Record<FlanFormat, number>> = {};
  for (const part of s.split(',')) {
    const [name, w] = part.split('=');
    if (name !== 'zero-shot' && name !== 'few-shot' && name !== 'cot') throw new SlmError('INVALID_ARGUMENT', `--formats: unknown format "${name}" (zero-shot, few-shot, cot)`);
    const n = w === undefined ? 1 : Number(w);
    if (!(n >= 0)) throw new SlmError('INVALID_ARGUMENT', `--formats: bad weight "${w}"`);
    out[name] = n;
  }
  return out;
}

function posInt(v: unknown, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a non-negative integer`);
  return n;
}

export function recordLine(r: FlanRecord, as: string): string {
  if (as === 'pair') return JSON.stringify({ prompt: r.messages[0]!.content + '\n', response: r.messages[1]!.content, dataset: r.dataset, cluster: r.cluster, format: r.format, template: r.template });
  return JSON.stringify(r);
}

const dataFlan: Command = {
  name: 'data flan',
  summary: 'FLAN instruction mixture (templates, zero/few-shot/CoT, examples-proportional mixing, cluster hold-out)',
  usage: '--out mix.jsonl [--hold-out nli] [--total 2000] [--formats zero-shot=0.7,few-shot=0.2,cot=0.1]',
  options: {
    out: { type: 'string', description: 'output JSONL file (written atomically)', valueName: 'file' },
    datasets: { type: 'string', description: `comma-separated datasets (default all: ${FLAN_DATASETS.join(',')})`, valueName: 'list' },
    'hold-out': { type: 'string', description: `comma-separated clusters left out with their FLAN neighbours (${[...new Set(Object.values(FLAN_CLUSTERS))].join(', ')})`, valueName: 'clusters' },
    total: { type: 'string', description: 'records in the mixture (default 2000)', valueName: 'n' },
    formats: { type: 'string', description: 'format shares (default zero-shot=1)', valueName: 'spec' },
    shots: { type: 'string', description: 'exemplars per few-shot record (default 2)', valueName: 'k' },
    'rate-max': { type: 'string', description: 'examples-proportional cap K (default 3000)', valueName: 'K' },
    'no-inverted': { type: 'boolean', description: 'leave out templates that invert the task' },
    'data-dir': { type: 'string', description: 'shared datasets folder (default $SLMKIT_DATA or ../shared/datasets)', valueName: 'dir' },
    as: { type: 'string', description: 'record shape: messages (chat, default) or pair (prompt/response)', valueName: 'shape' },
    seed: { type: 'string', description: 'seed (default 0)', valueName: 'n' },
    json: { type: 'boolean', description: 'print a JSON summary on stdout' },
  },
  async run({ values }, io) {
    if (typeof values.out !== 'string') throw new SlmError('INVALID_ARGUMENT', '--out is required');
    const root = resolve((values['data-dir'] as string | undefined) ?? process.env.SLMKIT_DATA ?? '../shared/datasets');
    const holdOut = typeof values['hold-out'] === 'string' ? values['hold-out'].split(',').filter(Boolean) : [];
    const known = new Set(Object.values(FLAN_CLUSTERS));
    for (const c of holdOut) if (!known.has(c)) throw new SlmError('INVALID_ARGUMENT', `--hold-out: unknown cluster "${c}" (have: ${[...known].join(', ')})`);
    const asShape = (values.as as string | undefined) ?? 'messages';
    if (asShape !== 'messages' && asShape !== 'pair') throw new SlmError('INVALID_ARGUMENT', '--as must be messages or pair');
    const requested = typeof values.datasets === 'string' ? values.datasets.split(',').filter(Boolean) : [...FLAN_DATASETS];
    const names = trainingDatasets(requested, holdOut);
    if (names.length === 0) throw new SlmError('INVALID_ARGUMENT', 'every dataset is held out');
    const data = Object.fromEntries(names.map((n) => [n, loadFlanDataset(root, n)]));
    const records = buildMixture(data, {
      total: posInt(values.total, 'total', 2000),
      seed: posInt(values.seed, 'seed', 0),
      formats: typeof values.formats === 'string' ? parseFormats(values.formats) : undefined,
      shots: posInt(values.shots, 'shots', 2),
      rateMax: posInt(values['rate-max'], 'rate-max', 3000),
      inverted: !values['no-inverted'],
    });
    writeFileAtomic(values.out, records.map((r) => recordLine(r, asShape) + '\n').join(''));
    const perDataset: Record<string, number> = {};
    for (const r of records) perDataset[r.dataset] = (perDataset[r.dataset] ?? 0) + 1;
    const summary = { out: values.out, records: records.length, datasets: perDataset, held_out_clusters: holdOut.flatMap(heldOutClusters) };
    if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
    else io.stderr.write(`wrote ${records.length} records to ${values.out}: ${Object.entries(perDataset).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    return 0;
  },
};

export default dataFlan;
