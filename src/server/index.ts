export { createServer, type ServerOptions, type SlmServer } from './app.ts';
export type { ServedModel } from './served-model.ts';
export { ApiError } from './api-error.ts';
export { FairQueue, QueueFullError } from './queue.ts';
export { loadServedModel, type LoadServedModelOptions } from './load-model.ts';
