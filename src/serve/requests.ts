/**
 * The request kinds of `POST /v1/parameters`, and their validation.
 *
 * A device sends its recent behaviour either as item ids or, for privacy, as item embeddings
 * (the paper's option: the service then never sees raw ids):
 *
 * | body | meaning |
 * |---|---|
 * | `{ "sequence": [ids] }` | one user, item ids oldest first |
 * | `{ "sequences": [[ids], …] }` | several users |
 * | `{ "embeddings": [[…dim], …] }` | one user, one embedding per item `[time, dim]`, oldest first |
 * | `{ "embeddingSequences": [[[…dim], …], …] }` | several users |
 *
 * Every listed item is real (the mask is implicit: 1 for each given row). Ids must be integers
 * in `1..vocabSize-1` (0 is padding: send only real items). A sequence longer than the
 * generator's input keeps its last (most recent) items; a shorter one is padded on the right,
 * as in training data. An empty sequence is rejected.
 */
import { ServeError } from './serve_error';

/** A body of `POST /v1/parameters`. */
export type ParametersRequest =
  | { sequence: number[] }
  | { sequences: number[][] }
  | { embeddings: number[][] }
  | { embeddingSequences: number[][][] };

/** One user's conditioning input, validated and cut to the generator's length. */
export type GeneratorRow =
  | { kind: 'ids'; ids: number[] }
  /** `vectors` holds `time × dim` values, row-major; `time ≤ sequenceLength`. */
  | { kind: 'embeddings'; vectors: Float32Array; time: number };

/** What the generator accepts, for {@link parseParametersRequest}. */
export interface RequestLimits {
  /** Generator input length L: longer sequences keep their last L items. */
  sequenceLength: number;
  /** Number of ids including padding 0, or null when ids are not accepted. */
  vocabSize: number | null;
  /** Embedding size, or null when embeddings are not accepted. */
  embeddingDim: number | null;
  /** Most sequences one request may carry. */
  maxSequences: number;
}

const KEYS = ['sequence', 'sequences', 'embeddings', 'embeddingSequences'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : typeof value === 'object' ? 'an object' :
    `${typeof value} ${String(value)}`;
}

function idsRow(value: unknown, where: string, limits: RequestLimits): GeneratorRow {
  const vocab = limits.vocabSize as number;
  if (!Array.isArray(value)) {
    throw new ServeError(400, 'bad_request', `${where} must be an array of item ids, got ` +
      `${describe(value)}`);
  }
  if (value.length === 0) {
    throw new ServeError(400, 'empty_sequence', `${where} is empty; send at least one item id`);
  }
  for (let i = 0; i < value.length; i++) {
    const id = value[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id >= vocab) {
      throw new ServeError(400, 'invalid_ids', `${where}[${i}] is ` +
        `${typeof id === 'number' ? String(id) : describe(id)}; item ids must be integers in ` +
        `1..${vocab - 1} (0 is padding)`);
    }
  }
  return { kind: 'ids', ids: (value as number[]).slice(-limits.sequenceLength) };
}

function embeddingsRow(value: unknown, where: string, limits: RequestLimits): GeneratorRow {
  const dim = limits.embeddingDim as number;
  if (!Array.isArray(value)) {
    throw new ServeError(400, 'bad_request', `${where} must be an array of embeddings ` +
      `[time, ${dim}], got ${describe(value)}`);
  }
  if (value.length === 0) {
    throw new ServeError(400, 'empty_sequence', `${where} is empty; send at least one embedding`);
  }
  const kept = value.slice(-limits.sequenceLength);
  // Check the dropped rows too: a malformed body is rejected whatever its length.
  for (let t = 0; t < value.length; t++) {
    const row = value[t];
    if (!Array.isArray(row) || row.length !== dim) {
      throw new ServeError(400, 'invalid_embeddings', `${where}[${t}] must be an array of ` +
        `${dim} numbers, got ${Array.isArray(row) ? `${row.length} values` : describe(row)}`);
    }
    for (let d = 0; d < dim; d++) {
      if (typeof row[d] !== 'number' || !Number.isFinite(row[d])) {
        throw new ServeError(400, 'invalid_embeddings', `${where}[${t}][${d}] is ` +
          `${describe(row[d])}; embeddings must be finite numbers`);
      }
    }
  }
  const vectors = new Float32Array(kept.length * dim);
  kept.forEach((row, t) => vectors.set(row as number[], t * dim));
  return { kind: 'embeddings', vectors, time: kept.length };
}

function rowsOf(value: unknown, key: string, limits: RequestLimits): unknown[] {
  if (!Array.isArray(value)) {
    throw new ServeError(400, 'bad_request', `'${key}' must be an array, got ${describe(value)}`);
  }
  if (value.length === 0) {
    throw new ServeError(400, 'empty_sequence', `'${key}' holds no sequences`);
  }
  if (value.length > limits.maxSequences) {
    throw new ServeError(400, 'too_many_sequences', `'${key}' holds ${value.length} sequences; ` +
      `at most ${limits.maxSequences} per request`);
  }
  return value;
}

/**
 * Validates a parsed `POST /v1/parameters` body and turns it into generator rows; throws a
 * {@link ServeError} (status 400) naming the problem.
 *
 * @example
 * ```ts
 * const rows = parseParametersRequest({ sequence: [4, 8, 15] },
 *   { sequenceLength: 20, vocabSize: 1000, embeddingDim: null, maxSequences: 256 });
 * // [{ kind: 'ids', ids: [4, 8, 15] }]
 * ```
 */
export function parseParametersRequest(body: unknown, limits: RequestLimits): GeneratorRow[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ServeError(400, 'bad_request', `the body must be a JSON object with one of ` +
      `${KEYS.map((k) => `'${k}'`).join(', ')}, got ${describe(body)}`);
  }
  const keys = Object.keys(body);
  const unknown = keys.filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new ServeError(400, 'bad_request', `unknown field ${JSON.stringify(unknown[0])} in ` +
      `the body; accepted: ${KEYS.map((k) => `'${k}'`).join(', ')}`);
  }
  if (keys.length !== 1) {
    throw new ServeError(400, 'bad_request', `the body must have exactly one of ` +
      `${KEYS.map((k) => `'${k}'`).join(', ')}, got ${keys.length}`);
  }
  const key = keys[0] as (typeof KEYS)[number];
  const value = (body as Record<string, unknown>)[key];
  const ids = key === 'sequence' || key === 'sequences';
  if (ids && limits.vocabSize === null) {
    throw new ServeError(400, 'unsupported_request', `this generator reads embeddings, not ` +
      `item ids: send 'embeddings' or 'embeddingSequences'`);
  }
  if (!ids && limits.embeddingDim === null) {
    throw new ServeError(400, 'unsupported_request', `this generator cannot read embeddings: ` +
      `send 'sequence' or 'sequences'`);
  }
  switch (key) {
    case 'sequence': return [idsRow(value, `'sequence'`, limits)];
    case 'sequences':
      return rowsOf(value, key, limits).map((v, i) => idsRow(v, `'sequences'[${i}]`, limits));
    case 'embeddings': return [embeddingsRow(value, `'embeddings'`, limits)];
    default:
      return rowsOf(value, key, limits).map((v, i) =>
        embeddingsRow(v, `'embeddingSequences'[${i}]`, limits));
  }
}
