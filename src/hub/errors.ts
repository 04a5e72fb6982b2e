// Typed errors of the Hugging Face Hub client. `reason` says what went wrong in a form a
// caller can branch on (a gated repo wants a token; an offline miss wants --pull or network).
import { SlmError, type SlmErrorCode } from '../errors.ts';

export type HubErrorReason =
  | 'repo-not-found'
  | 'revision-not-found'
  | 'entry-not-found'
  | 'gated'
  | 'unauthorized'
  | 'offline-miss'
  | 'network'
  | 'integrity'
  | 'bad-response'
  | 'invalid-repo-id';

const CODE_OF: Record<HubErrorReason, SlmErrorCode> = {
  'repo-not-found': 'NOT_FOUND',
  'revision-not-found': 'NOT_FOUND',
  'entry-not-found': 'NOT_FOUND',
  gated: 'INVALID_ARGUMENT',
  unauthorized: 'INVALID_ARGUMENT',
  'offline-miss': 'NOT_FOUND',
  network: 'RUNTIME_ERROR',
  integrity: 'FORMAT_ERROR',
  'bad-response': 'FORMAT_ERROR',
  'invalid-repo-id': 'INVALID_ARGUMENT',
};

export class HubError extends SlmError {
  readonly reason: HubErrorReason;
  readonly status: number | undefined;
  constructor(reason: HubErrorReason, message: string, options?: { status?: number; cause?: unknown }) {
    super(CODE_OF[reason], message, { cause: options?.cause });
    this.name = 'HubError';
    this.reason = reason;
    this.status = options?.status;
  }
}
