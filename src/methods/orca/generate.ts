// The Orca 2 generation job: each task goes to the teacher with the system instruction of
// its category's strategy; the answer comes back as a teacher-side record (strategy prompt
// kept) and a student record (prompt erased). Runs in-process with a concurrency limit;
// records come out in input order whatever order the teacher answers in.
import { SlmError } from '../../errors.ts';
import type { OpenAICompatibleClient } from '../../client/openai-client.ts';
import type { ChatTurn } from './chatml.ts';
import { eraseSystemPrompt } from './erasure.ts';
import { ORCA_STRATEGY_PROMPTS, strategyFor, type OrcaStrategy } from './strategies.ts';

/** A task: the user turn(s), and its category (a FLAN cluster) for the strategy router. */
export interface OrcaTask {
  id: string;
  messages: ChatTurn[];
  category?: string;
}

/** Anything that answers a chat: a remote endpoint (teacherFromClient) or a local model. */
export type Teacher = (messages: ChatTurn[], signal?: AbortSignal) => Promise<string>;

export interface OrcaRecord {
  id: string;
  strategy: OrcaStrategy;
  category?: string;
  /** Generic system message + user turn(s) + teacher answer: what the student trains on. */
  messages: ChatTurn[];
  /** The strategy system message the teacher saw (kept for inspection, not trained on). */
  teacher_system: string;
}

/** The messages sent to the teacher: strategy system instruction + the task's user turns. */
export function teacherMessages(task: OrcaTask): { strategy: OrcaStrategy; messages: ChatTurn[] } {
  const strategy = strategyFor(task.category);
  const users = task.messages.filter((m) => m.role !== 'system' && m.role !== 'assistant');
  if (users.length === 0) throw new SlmError('INVALID_ARGUMENT', `task ${task.id}: no user message`);
  return { strategy, messages: [{ role: 'system', content: ORCA_STRATEGY_PROMPTS[strategy] }, ...users] };
}

export function teacherFromClient(client: OpenAICompatibleClient, o: { model: string; maxTokens: number; temperature: number }): Teacher {
  return async (messages, signal) => {
    const r = (await client.chat({ model: o.model, messages, max_tokens: o.maxTokens, temperature: o.temperature }, { signal })) as { choices?: { message?: { content?: string } }[] };
    const text = r.choices?.[0]?.message?.content;
    if (typeof text !== 'string') throw new SlmError('RUNTIME_ERROR', 'teacher reply has no choices[0].message.content');
    return text;
  };
}

export interface GenerateOptions {
  concurrency?: number;
  signal?: AbortSignal;
  onRecord?: (done: number, total: number) => void;
  /** A task the teacher fails on (e.g. HTTP 400: prompt longer than its context): 'throw' (default) stops the job, 'skip' leaves it out and reports it. */
  onError?: 'throw' | 'skip';
  failures?: { id: string; error: string }[];
}

/** Runs every task through the teacher, at most `concurrency` at a time; input order kept. */
export async function generateOrcaData(tasks: readonly OrcaTask[], teacher: Teacher, o: GenerateOptions = {}): Promise<OrcaRecord[]> {
  const out: (OrcaRecord | undefined)[] = new Array(tasks.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      if (o.signal?.aborted) throw new SlmError('ABORTED', 'generation aborted');
      const task = tasks[i]!;
      const { strategy, messages } = teacherMessages(task);
      let answer: string;
      try {
        answer = await teacher(messages, o.signal);
      } catch (e) {
        if (o.onError !== 'skip' || o.signal?.aborted) throw e;
        o.failures?.push({ id: task.id, error: (e as Error).message });
        o.onRecord?.(++done, tasks.length);
        continue;
      }
      const convo = [...messages, { role: 'assistant' as const, content: answer.trim() }];
      out[i] = { id: task.id, strategy, category: task.category, messages: eraseSystemPrompt(convo), teacher_system: messages[0]!.content };
      o.onRecord?.(++done, tasks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, tasks.length)) }, worker));
  return out.filter((r): r is OrcaRecord => r !== undefined);
}

/** Tasks from JSONL lines: {"messages": [...]} (assistant turns dropped) or {"prompt"}; category from "cluster"/"category". */
export function parseOrcaTasks(text: string, source: string): OrcaTask[] {
  const tasks: OrcaTask[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new SlmError('INVALID_ARGUMENT', `${source}: line ${i + 1}: ${(e as Error).message}`);
    }
    const category = typeof r.category === 'string' ? r.category : typeof r.cluster === 'string' ? r.cluster : undefined;
    let messages: ChatTurn[];
    if (Array.isArray(r.messages)) messages = (r.messages as ChatTurn[]).filter((m) => m.role === 'user');
    else if (typeof r.prompt === 'string') messages = [{ role: 'user', content: r.prompt }];
    else throw new SlmError('INVALID_ARGUMENT', `${source}: line ${i + 1}: expected "messages" or "prompt"`);
    tasks.push({ id: typeof r.id === 'string' ? r.id : `${source}#${i + 1}`, messages, category });
  });
  return tasks;
}
