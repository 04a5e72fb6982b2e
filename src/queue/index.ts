// Generation jobs (prompts → completions JSONL) in-process or over BullMQ on Redis.
export * from './generation.ts';
export * from './completers.ts';
export * from './local.ts';
export * from './bull.ts';
