// Orca 2 strategy library (Mitra et al., 2023, §3 "cautious reasoning"): per task category a
// detailed system instruction that makes the teacher answer with one solution strategy. The
// paper does not publish its instruction strings; the texts below are slmkit's (marked "ours"
// in docs/methods/orca2.md). The generic system message is verbatim Orca 2.
export type OrcaStrategy = 'step-by-step' | 'recall-then-generate' | 'recall-reason-generate' | 'extract-generate' | 'direct-answer';

/** The cautious system message every student example gets after prompt erasure (verbatim Orca 2). */
export const ORCA_GENERIC_SYSTEM =
  'You are Orca, an AI language model created by Microsoft. You are a cautious assistant. You carefully follow instructions. You are helpful and harmless and you follow ethical guidelines and promote positive behavior.';

export const ORCA_STRATEGY_PROMPTS: Record<OrcaStrategy, string> = {
  'step-by-step':
    'You are a careful problem solver. Break the problem into small steps. Write each step on its own line, state every intermediate result, check the arithmetic of each step, and finish with a line "Final answer: <answer>".',
  'recall-then-generate':
    'Before answering, recall the facts you know that are relevant to the question and list them briefly. Then, using only those facts, write the answer. If none of the options fits the facts, say which one is closest and why.',
  'recall-reason-generate':
    'First recall the relevant facts about the entities in the question, then reason step by step using them, then give the final answer on its own line.',
  'extract-generate':
    'The answer is in the given text. First quote the sentences of the text that are relevant to the question, word for word. Then explain in one or two sentences how they answer it, and give the answer.',
  'direct-answer': 'Answer the question directly and concisely. Give only the answer, chosen from the options when options are listed, with no explanation.',
};

/** Task category (FLAN cluster) → strategy: the routing table used only when data is generated. */
export const ORCA_STRATEGY_FOR: Record<string, OrcaStrategy> = {
  math: 'step-by-step',
  closed_book_qa: 'recall-then-generate',
  coreference: 'recall-reason-generate',
  commonsense: 'recall-reason-generate',
  reading_comprehension: 'extract-generate',
  nli: 'extract-generate',
  sentiment: 'direct-answer',
  cola: 'direct-answer',
  trec: 'direct-answer',
};

export function strategyFor(category: string | undefined, fallback: OrcaStrategy = 'step-by-step'): OrcaStrategy {
  return (category !== undefined ? ORCA_STRATEGY_FOR[category] : undefined) ?? fallback;
}
