/**
 * The error every rejected request becomes: an HTTP status, a stable machine-readable code, and a
 * message for people. The service answers it as `{ "error": { "code", "message" } }`.
 */

/** Machine-readable codes of the service's error answers. */
export type ServeErrorCode =
  | 'bad_json' | 'bad_request' | 'invalid_ids' | 'unknown_ids' | 'invalid_embeddings' | 'empty_sequence'
  | 'too_many_sequences' | 'unsupported_request' | 'bad_format' | 'payload_too_large'
  | 'unsupported_media_type' | 'unauthorized' | 'forbidden_origin' | 'not_found'
  | 'method_not_allowed' | 'overloaded' | 'shutting_down' | 'generator_failed' | 'internal';

/** Extra fields of a {@link ServeError}. */
export interface ServeErrorOptions {
  /** Seconds the client should wait before retrying: sent as `Retry-After` (503s). */
  retryAfterSeconds?: number;
}

/**
 * An error with an HTTP status and a {@link ServeErrorCode}.
 *
 * @example
 * ```ts
 * throw new ServeError(400, 'invalid_ids', "'sequence' item 3 is -1; ids must be integers in 1..999");
 * throw new ServeError(503, 'overloaded', 'the queue is full', { retryAfterSeconds: 1 });
 * ```
 */
export class ServeError extends Error {
  /** Seconds to wait before retrying, or null. */
  readonly retryAfterSeconds: number | null;

  constructor(readonly status: number, readonly code: ServeErrorCode, message: string,
      options: ServeErrorOptions = {}) {
    super(message);
    this.name = 'ServeError';
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }
}
