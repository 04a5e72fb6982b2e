// Child process of crash.test.ts: trains with the config in argv[2] and, while writing the
// checkpoint of step argv[3], stops after its first file and waits to be killed (SIGKILL).
import { readFileSync } from 'node:fs';
import { parseTrainConfig } from '../../src/train/config.ts';
import { runTraining } from '../../src/train/run.ts';

const cfg = parseTrainConfig(JSON.parse(readFileSync(process.argv[2]!, 'utf8')));
const crashStep = Number(process.argv[3]);
let step = 0;
await runTraining(cfg, {
  onStep: (m) => (step = m.step),
  onCheckpointFile: async (file) => {
    if (step !== crashStep) return;
    process.stdout.write(`WRITING ${file}\n`);
    await new Promise(() => {}); // hang mid-checkpoint until killed
  },
});
process.stdout.write('FINISHED\n');
