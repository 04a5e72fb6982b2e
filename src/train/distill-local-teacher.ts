// A local slmkit model as the distillation teacher: full logits of every position of every
// training row, each row run from an empty cache (so the teacher sees exactly the row the
// student sees, positions from 0).
import { loadCausalLM } from '../models/load.ts';
import type { TeacherLogits } from './objectives/distill.ts';

export interface LocalTeacher {
  logits: TeacherLogits;
  vocabSize: number;
  dispose(): Promise<void>;
}

export async function loadLocalTeacher(path: string, o: { context: number; threads?: number }): Promise<LocalTeacher> {
  const lm = await loadCausalLM(path, { context: o.context, threads: o.threads });
  const session = lm.createSession();
  const V = lm.vocabSize;
  return {
    vocabSize: V,
    async logits(rows, signal) {
      const out: Float32Array[] = [];
      for (const row of rows) {
        session.truncate(0, 0);
        const per = (await session.forward([Array.from(row)], { allLogits: true, signal }))[0]!;
        const flat = new Float32Array(per.length * V);
        per.forEach((l, p) => flat.set(l, p * V));
        out.push(flat);
      }
      session.truncate(0, 0);
      return out;
    },
    dispose: () => lm.dispose(),
  };
}
