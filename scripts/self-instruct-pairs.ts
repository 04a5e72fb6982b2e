// Issue 13's small fine-tuned model for EFT: turns ../shared/datasets/self_instruct_seed into
// prompt/response JSONL for `slm train` (loss on the response only). seed_tasks.jsonl (175
// human-written tasks, the dataset's SFT seed) becomes the training set; user_oriented_instructions.jsonl
// (252 expert-written tasks, the dataset's evaluation set) the held-out set whose reference answers
// EFT's log-likelihood comparison scores. One record per instance.
//
//   node --import tsx scripts/self-instruct-pairs.ts [--src ../shared/datasets/self_instruct_seed] [--out runs/eft-ft]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface Task {
  instruction: string;
  instances: { input: string; output: string }[];
}

/** The prompt format: plain text (the default model has no chat template). */
export function formatPair(instruction: string, input: string, output: string): { prompt: string; response: string } {
  const prompt = `Instruction: ${instruction.trim()}\n${input.trim() ? `Input: ${input.trim()}\n` : ''}Response:`;
  return { prompt, response: ` ${output.trim()}\n` };
}

function pairs(file: string): string[] {
  const out: string[] = [];
  for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (!line.trim()) continue;
    const t = JSON.parse(line) as Task;
    if (typeof t.instruction !== 'string' || !Array.isArray(t.instances)) throw new Error(`${file}: line ${i + 1}: expected instruction and instances`);
    for (const inst of t.instances) if (inst.output?.trim()) out.push(JSON.stringify(formatPair(t.instruction, inst.input ?? '', inst.output)));
  }
  return out;
}

const { values } = parseArgs({ options: { src: { type: 'string' }, out: { type: 'string' } } });
const src = values.src ?? '../shared/datasets/self_instruct_seed';
const out = values.out ?? 'runs/eft-ft';
mkdirSync(out, { recursive: true });
const train = pairs(join(src, 'seed_tasks.jsonl'));
const heldOut = pairs(join(src, 'user_oriented_instructions.jsonl'));
writeFileSync(join(out, 'train.jsonl'), train.join('\n') + '\n');
writeFileSync(join(out, 'heldout.jsonl'), heldOut.join('\n') + '\n');
process.stderr.write(`${train.length} training pairs, ${heldOut.length} held-out pairs -> ${out}/{train,heldout}.jsonl\n`);
