// `slm worker --queue redis://HOST:PORT`: processes generation jobs from BullMQ until stopped
// (Ctrl-C / SIGTERM closes it after the running jobs finish).
import type { Command } from '../command.ts';
import { startGenerationWorker, DEFAULT_QUEUE_NAME } from '../../queue/index.ts';
import { TEACHER_OPTIONS, completerFromOptions } from '../teacher-options.ts';

const worker: Command = {
  name: 'worker',
  summary: 'process generation jobs from a Redis queue (BullMQ)',
  usage: '--queue redis://HOST:PORT (--endpoint <url> --model <name> | --backend echo) [options]',
  allowPositionals: false,
  options: {
    queue: { type: 'string', valueName: 'url', description: 'redis://HOST:PORT[/db] of the queue' },
    'queue-name': { type: 'string', description: `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})` },
    concurrency: { type: 'string', description: 'jobs run at the same time (default 1)' },
    'lock-ms': { type: 'string', description: "job lock duration: a dead worker's job is retried after it (default 30000)" },
    ...TEACHER_OPTIONS,
  },
  async run({ values }, io) {
    if (!values.queue) {
      io.stderr.write('slm worker: --queue redis://HOST:PORT is required\n');
      return 2;
    }
    const w = startGenerationWorker({
      queueUrl: values.queue as string,
      queueName: values['queue-name'] as string | undefined,
      completer: completerFromOptions(values),
      concurrency: values.concurrency ? Number(values.concurrency) : undefined,
      lockDurationMs: values['lock-ms'] ? Number(values['lock-ms']) : undefined,
      log: (line) => io.stderr.write(`[worker ${process.pid}] ${line}\n`),
    });
    await w.waitUntilReady();
    io.stderr.write(`[worker ${process.pid}] ready on ${values.queue}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      io.signal.addEventListener('abort', stop, { once: true });
      process.once('SIGTERM', stop);
    });
    await w.close();
    return 0;
  },
};

export default worker;
