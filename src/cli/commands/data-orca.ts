// `slm data orca --in tasks.jsonl --teacher http://host:port/v1 --out orca.jsonl`: sends each
// task to the teacher with its category's Orca 2 strategy prompt and writes the student data
// with the strategy prompt erased (generic system message), as chat JSONL for `slm train`.
// A local model is a teacher through `slm serve <model>` and its URL.
import { readFileSync } from 'node:fs';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { OpenAICompatibleClient } from '../../client/openai-client.ts';
import { generateOrcaData, parseOrcaTasks, teacherFromClient } from '../../methods/orca/index.ts';

const dataOrca: Command = {
  name: 'data orca',
  summary: 'Orca 2 data: teacher answers under task-specific strategy prompts, prompt erasure for the student',
  usage: '--in tasks.jsonl --teacher <url> --out orca.jsonl [--limit N] [--concurrency 4]',
  options: {
    in: { type: 'string', description: 'tasks JSONL ({"messages"} or {"prompt"}, with "cluster"/"category"; e.g. slm data flan output)', valueName: 'file' },
    teacher: { type: 'string', description: 'OpenAI-compatible base URL of the teacher (e.g. http://127.0.0.1:8080/v1 of slm serve)', valueName: 'url' },
    'teacher-model': { type: 'string', description: 'model name sent to the teacher (default "default")', valueName: 'name' },
    out: { type: 'string', description: 'output JSONL file (written atomically)', valueName: 'file' },
    limit: { type: 'string', description: 'use the first N tasks', valueName: 'n' },
    concurrency: { type: 'string', description: 'requests in flight (default 4)', valueName: 'n' },
    'max-tokens': { type: 'string', description: 'teacher max_tokens (default 256)', valueName: 'n' },
    temperature: { type: 'string', description: 'teacher temperature (default 0)', valueName: 't' },
    json: { type: 'boolean', description: 'print a JSON summary on stdout' },
  },
  async run({ values }, io) {
    for (const k of ['in', 'teacher', 'out'] as const) if (typeof values[k] !== 'string') throw new SlmError('INVALID_ARGUMENT', `--${k} is required`);
    let tasks = parseOrcaTasks(readFileSync(values.in as string, 'utf8'), values.in as string);
    if (values.limit !== undefined) tasks = tasks.slice(0, Number(values.limit));
    const client = new OpenAICompatibleClient({ baseURL: values.teacher as string, apiKey: process.env.OPENAI_API_KEY, timeoutMs: 600_000 });
    const teacher = teacherFromClient(client, {
      model: (values['teacher-model'] as string | undefined) ?? 'default',
      maxTokens: Number(values['max-tokens'] ?? 256),
      temperature: Number(values.temperature ?? 0),
    });
    const tty = (io.stderr as NodeJS.WriteStream).isTTY;
    const failures: { id: string; error: string }[] = [];
    const records = await generateOrcaData(tasks, teacher, {
      onError: 'skip',
      failures,
      concurrency: Number(values.concurrency ?? 4),
      signal: io.signal,
      onRecord: (d, n) => tty && io.stderr.write(`\r${d}/${n}`),
    });
    writeFileAtomic(values.out as string, records.map((r) => JSON.stringify(r) + '\n').join(''));
    const perStrategy: Record<string, number> = {};
    for (const r of records) perStrategy[r.strategy] = (perStrategy[r.strategy] ?? 0) + 1;
    if (tty) io.stderr.write('\n');
    for (const f of failures.slice(0, 5)) io.stderr.write(`skipped ${f.id}: ${f.error}\n`);
    if (values.json) io.stdout.write(JSON.stringify({ out: values.out, records: records.length, skipped: failures.length, strategies: perStrategy }) + '\n');
    else io.stderr.write(`wrote ${records.length} records to ${values.out} (${failures.length} task(s) skipped: the teacher failed on them)\n`);
    return 0;
  },
};

export default dataOrca;
