// Typed errors for the whole library. Library code throws these and never exits;
// only the CLI turns them into messages and exit codes.

export type SlmErrorCode =
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED'
  | 'FORMAT_ERROR'
  | 'NOT_FOUND'
  | 'ABORTED'
  | 'OUT_OF_MEMORY'
  | 'LIMIT_EXCEEDED'
  | 'RUNTIME_ERROR';

export class SlmError extends Error {
  readonly code: SlmErrorCode;
  constructor(code: SlmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlmError';
    this.code = code;
  }
}

/** A graph was built with operands whose shapes or dtypes do not fit the op. */
export class GraphBuildError extends SlmError {
  constructor(code: 'SHAPE_MISMATCH' | 'DTYPE_MISMATCH' | 'INVALID_ARGUMENT', message: string) {
    super(code, message);
    this.name = 'GraphBuildError';
  }
}

/** A file (checkpoint, tokenizer, config) is malformed; names the file and the field. */
export class FormatError extends SlmError {
  readonly file: string;
  readonly field: string | undefined;
  constructor(file: string, field: string | undefined, message: string, options?: { cause?: unknown }) {
    super('FORMAT_ERROR', `${file}${field ? ` [${field}]` : ''}: ${message}`, options);
    this.name = 'FormatError';
    this.file = file;
    this.field = field;
  }
}

export class UnsupportedError extends SlmError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
    this.name = 'UnsupportedError';
  }
}

/**
 * Untrusted input (a template, a file, a request) went past a limit slmkit enforces so that it
 * cannot hang the process or exhaust memory. `limit` names the limit (docs/limits.md lists them).
 */
export class LimitError extends SlmError {
  constructor(
    readonly limit: string,
    readonly max: number,
    message: string,
  ) {
    super('LIMIT_EXCEEDED', message);
    this.name = 'LimitError';
  }
}

export class AbortError extends SlmError {
  constructor(message = 'the operation was aborted') {
    super('ABORTED', message);
    this.name = 'AbortError';
  }
}

/** Throws AbortError when the signal has fired; call it between units of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}
