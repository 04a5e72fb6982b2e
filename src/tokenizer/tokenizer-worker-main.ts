// The worker side of tokenizer-worker.ts: loads the tokenizer, then answers one job per message.
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from './load.ts';
import { errorShape } from './tokenizer-worker.ts';

const port = parentPort!;
try {
  const tok = await loadTokenizer((workerData as { source: string }).source);
  port.on('message', (job) => {
    try {
      let result: unknown;
      if (job.op === 'encode') result = tok.encode(job.text, { addSpecialTokens: job.addSpecialTokens });
      else if (job.op === 'encodeChat') result = tok.encodeChat(job.messages, job.opts);
      else if (job.op === 'applyChatTemplate') result = tok.applyChatTemplate(job.messages, job.opts);
      else throw new Error(`unknown job ${job.op}`);
      port.postMessage({ result });
    } catch (e) {
      port.postMessage({ error: errorShape(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ error: errorShape(e) });
}
