// OpenAI-shaped errors: {error: {message, type, param, code}} with the matching HTTP status.
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'timeout_error'
  | 'service_unavailable';

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 408 | 413 | 429 | 500 | 503 | 504,
    message: string,
    readonly type: ApiErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, 'invalid_request_error', param, code);
