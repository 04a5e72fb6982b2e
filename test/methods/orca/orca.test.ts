import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORCA_GENERIC_SYSTEM, ORCA_STRATEGY_PROMPTS, eraseSystemPrompt, generateOrcaData, parseOrcaTasks, strategyFor, teacherMessages, toChatML, type ChatTurn } from '../../../src/methods/orca/index.ts';

test('ChatML serialization, byte for byte', () => {
  const msgs: ChatTurn[] = [
    { role: 'system', content: 'S' },
    { role: 'user', content: 'Hi?' },
  ];
  assert.equal(toChatML(msgs, { generationPrompt: true }), '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(toChatML([...msgs, { role: 'assistant', content: 'Yes.' }]), '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nYes.<|im_end|>\n');
});

test('prompt erasure: the strategy message becomes the generic Orca one, the rest is kept', () => {
  const erased = eraseSystemPrompt([
    { role: 'system', content: 'First recall the relevant facts...' },
    { role: 'user', content: 'Q' },
    { role: 'assistant', content: 'A' },
  ]);
  assert.deepEqual(erased, [
    { role: 'system', content: 'You are Orca, an AI language model created by Microsoft. You are a cautious assistant. You carefully follow instructions. You are helpful and harmless and you follow ethical guidelines and promote positive behavior.' },
    { role: 'user', content: 'Q' },
    { role: 'assistant', content: 'A' },
  ]);
  assert.equal(erased[0]!.content, ORCA_GENERIC_SYSTEM);
  assert.throws(() => eraseSystemPrompt([{ role: 'user', content: 'Q' }]), /assistant/);
});

test('strategy routing by category', () => {
  assert.equal(strategyFor('math'), 'step-by-step');
  assert.equal(strategyFor('reading_comprehension'), 'extract-generate');
  assert.equal(strategyFor('closed_book_qa'), 'recall-then-generate');
  assert.equal(strategyFor('sentiment'), 'direct-answer');
  assert.equal(strategyFor(undefined), 'step-by-step');
  const t = teacherMessages({ id: 'x', category: 'coreference', messages: [{ role: 'user', content: 'Who?' }] });
  assert.equal(t.strategy, 'recall-reason-generate');
  assert.deepEqual(t.messages, [
    { role: 'system', content: ORCA_STRATEGY_PROMPTS['recall-reason-generate'] },
    { role: 'user', content: 'Who?' },
  ]);
});

test('generation job: teacher sees the strategy prompt, the student record has it erased, input order kept', async () => {
  const tasks = parseOrcaTasks(
    [
      JSON.stringify({ messages: [{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: 'gold' }], cluster: 'math' }),
      JSON.stringify({ prompt: 'Is this positive? great film', category: 'sentiment', id: 'p2' }),
      JSON.stringify({ messages: [{ role: 'user', content: 'Who wrote Hamlet?' }], cluster: 'closed_book_qa' }),
    ].join('\n'),
    'tasks.jsonl',
  );
  assert.deepEqual(tasks.map((t) => t.id), ['tasks.jsonl#1', 'p2', 'tasks.jsonl#3']);
  const seen: string[] = [];
  // Answers arrive out of order (later tasks answer first).
  const teacher = async (m: ChatTurn[]) => {
    seen.push(m[0]!.content);
    await new Promise((r) => setTimeout(r, m[1]!.content.length % 3));
    return ` answer to ${m[1]!.content} `;
  };
  const recs = await generateOrcaData(tasks, teacher, { concurrency: 3 });
  assert.deepEqual(recs.map((r) => r.strategy), ['step-by-step', 'direct-answer', 'recall-then-generate']);
  assert.deepEqual(new Set(seen), new Set([ORCA_STRATEGY_PROMPTS['step-by-step'], ORCA_STRATEGY_PROMPTS['direct-answer'], ORCA_STRATEGY_PROMPTS['recall-then-generate']]));
  assert.deepEqual(recs[0]!.messages, [
    { role: 'system', content: ORCA_GENERIC_SYSTEM },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: 'answer to What is 2+2?' },
  ]);
  assert.equal(recs[0]!.teacher_system, ORCA_STRATEGY_PROMPTS['step-by-step']);
  assert.equal(recs[1]!.id, 'p2');
});
