/**
 * The error every rejected request becomes: an HTTP status, a stable machine-readable code, and a
 * message for people. The service answers it as `{ "error": { "code", "message" } }`.
 */

/** Machine-readable codes of the service's error answers. */
export type ServeErrorCode =
  | 'bad_json' | 'bad_request' | 'invalid_ids' | 'unknown_ids' | 'invalid_embeddings' | 'empty_sequence'
  | 'too_many_sequences' | 'unsupported_request' | 'bad_format' | 'payload_too_large'
  | 'unsupported_media_type' | 'unauthorized' | 'forbidden_origin' | 'not_found'
  | 'method_not_allowed' | 'overloaded' | 'shutting_down' | 'internal';

/**
 * An error with an HTTP status and a {@link ServeErrorCode}.
 *
 * @example
 * ```ts
 * throw new ServeError(400, 'invalid_ids', "'sequence' item 3 is -1; ids must be integers in 1..999");
 * ```
 */
export class ServeError extends Error {
  constructor(readonly status: number, readonly code: ServeErrorCode, message: string) {
    super(message);
    this.name = 'ServeError';
  }
}
