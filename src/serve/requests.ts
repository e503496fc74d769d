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
 * With `sequence(s)`, two optional fields:
 * - `"ids"`: `"original"` — the user's own ids, as in the model's item map (`items.tsv`):
 *   strings, or numbers matched by their decimal text; `"internal"` — the model's indices, integers
 *   in `1..vocabSize-1` (0 is padding: send only real items). Default: `"original"` when the
 *   service has an item map, else `"internal"`.
 * - `"unknownIds"`: `"error"` (400 `unknown_ids` naming them) or `"skip"` (drop them; a sequence
 *   left empty is still refused). Default: the service's `unknownIds` option, itself `"error"`.
 *
 * Every listed item is real (the mask is implicit: 1 for each given row). A sequence longer than
 * the generator's input keeps its last (most recent) items; a shorter one is padded on the right,
 * as in training data. An empty sequence is rejected.
 */
import { ServeError } from './serve_error';

/** An item id in a request: an original id (string or number) or an internal index. */
export type RequestItemId = string | number;

/** How the ids of `sequence(s)` are read. */
export interface RequestIdOptions {
  /** `'original'`: the item map's ids; `'internal'`: indices 1..N. */
  ids?: 'original' | 'internal';
  /** Unknown ids: refused (400) or dropped. */
  unknownIds?: 'error' | 'skip';
}

/** A body of `POST /v1/parameters`. */
export type ParametersRequest =
  | ({ sequence: RequestItemId[] } & RequestIdOptions)
  | ({ sequences: RequestItemId[][] } & RequestIdOptions)
  | { embeddings: number[][] }
  | { embeddingSequences: number[][][] };

/** The part of an item map ({@link IdMap} from `duet-tf`) the requests read. */
export interface ItemLookup {
  /** The internal index of an original id, or undefined. */
  indexOf(id: string | number): number | undefined;
  /** Number of mapped items. */
  readonly size: number;
}

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
  /** The item map: with it, ids are the user's own by default. Default: none (indices only). */
  items?: ItemLookup | null;
  /** Default of a request's `unknownIds`. Default `'error'`. */
  unknownIds?: 'error' | 'skip';
}

const KEYS = ['sequence', 'sequences', 'embeddings', 'embeddingSequences'] as const;
const ID_OPTIONS = ['ids', 'unknownIds'] as const;
/** At most this many unknown ids are listed in an error message. */
const LISTED = 10;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : typeof value === 'object' ? 'an object' :
    `${typeof value} ${String(value)}`;
}

/** How one request reads its ids, resolved from the body and the limits. */
interface IdMode {
  original: boolean;
  skip: boolean;
}

function idsRow(value: unknown, where: string, limits: RequestLimits, mode: IdMode): GeneratorRow {
  const vocab = limits.vocabSize as number;
  if (!Array.isArray(value)) {
    throw new ServeError(400, 'bad_request', `${where} must be an array of item ids, got ` +
      `${describe(value)}`);
  }
  if (value.length === 0) {
    throw new ServeError(400, 'empty_sequence', `${where} is empty; send at least one item id`);
  }
  if (!mode.original) {
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
  const items = limits.items as ItemLookup;
  const ids: number[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const id = value[i];
    if (!(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) {
      throw new ServeError(400, 'invalid_ids', `${where}[${i}] is ${describe(id)}; item ids are ` +
        'strings or numbers, as in your data');
    }
    const index = items.indexOf(id);
    if (index === undefined || index >= vocab) unknown.push(JSON.stringify(id));
    else ids.push(index);
  }
  if (unknown.length > 0 && !mode.skip) {
    throw new ServeError(400, 'unknown_ids', `${where} holds ${unknown.length} item id` +
      `${unknown.length === 1 ? '' : 's'} the model does not know: ` +
      `${unknown.slice(0, LISTED).join(', ')}${unknown.length > LISTED ? ', …' : ''} ` +
      `(send "unknownIds": "skip" to drop them)`);
  }
  if (ids.length === 0) {
    throw new ServeError(400, 'empty_sequence', `${where} holds no item id the model knows ` +
      `(unknown: ${unknown.slice(0, LISTED).join(', ')}${unknown.length > LISTED ? ', …' : ''})`);
  }
  return { kind: 'ids', ids: ids.slice(-limits.sequenceLength) };
}

/** `"ids"` and `"unknownIds"` of a body, checked against what the service has. */
function idMode(body: Record<string, unknown>, limits: RequestLimits): IdMode {
  const { ids, unknownIds } = body;
  if (ids !== undefined && ids !== 'original' && ids !== 'internal') {
    throw new ServeError(400, 'bad_request', `'ids' must be "original" or "internal", got ` +
      `${JSON.stringify(ids)}`);
  }
  if (unknownIds !== undefined && unknownIds !== 'error' && unknownIds !== 'skip') {
    throw new ServeError(400, 'bad_request', `'unknownIds' must be "error" or "skip", got ` +
      `${JSON.stringify(unknownIds)}`);
  }
  const hasMap = limits.items !== undefined && limits.items !== null;
  if (ids === 'original' && !hasMap) {
    throw new ServeError(400, 'unsupported_request', `this model has no item map (items.tsv ` +
      `beside it), so ids are its indices 1..${(limits.vocabSize as number) - 1}: send ` +
      `"ids": "internal" or none`);
  }
  return {
    original: ids === undefined ? hasMap : ids === 'original',
    skip: (unknownIds ?? limits.unknownIds ?? 'error') === 'skip',
  };
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
 * Validates a parsed `POST /v1/parameters` body and turns it into generator rows (ids mapped to
 * the model's indices); throws a {@link ServeError} (status 400) naming the problem.
 *
 * @example
 * ```ts
 * const rows = parseParametersRequest({ sequence: [4, 8, 15] },
 *   { sequenceLength: 20, vocabSize: 1000, embeddingDim: null, maxSequences: 256 });
 * // [{ kind: 'ids', ids: [4, 8, 15] }]
 * const mapped = parseParametersRequest({ sequence: ['B002', 'B001'] }, { sequenceLength: 20,
 *   vocabSize: 3, embeddingDim: null, maxSequences: 256, items: new IdMap(['B001', 'B002']) });
 * // [{ kind: 'ids', ids: [2, 1] }]
 * ```
 */
export function parseParametersRequest(body: unknown, limits: RequestLimits): GeneratorRow[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ServeError(400, 'bad_request', `the body must be a JSON object with one of ` +
      `${KEYS.map((k) => `'${k}'`).join(', ')}, got ${describe(body)}`);
  }
  const fields = Object.keys(body);
  const unknown = fields.filter((k) => !(KEYS as readonly string[]).includes(k) &&
    !(ID_OPTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new ServeError(400, 'bad_request', `unknown field ${JSON.stringify(unknown[0])} in ` +
      `the body; accepted: ${[...KEYS, ...ID_OPTIONS].map((k) => `'${k}'`).join(', ')}`);
  }
  const keys = fields.filter((k) => (KEYS as readonly string[]).includes(k));
  if (keys.length !== 1) {
    throw new ServeError(400, 'bad_request', `the body must have exactly one of ` +
      `${KEYS.map((k) => `'${k}'`).join(', ')}, got ${keys.length}`);
  }
  const key = keys[0] as (typeof KEYS)[number];
  const value = (body as Record<string, unknown>)[key];
  const ids = key === 'sequence' || key === 'sequences';
  const option = fields.find((k) => (ID_OPTIONS as readonly string[]).includes(k));
  if (!ids && option !== undefined) {
    throw new ServeError(400, 'bad_request', `'${option}' applies to 'sequence' and 'sequences' ` +
      `only, not to '${key}'`);
  }
  if (ids && limits.vocabSize === null) {
    throw new ServeError(400, 'unsupported_request', `this generator reads embeddings, not ` +
      `item ids: send 'embeddings' or 'embeddingSequences'`);
  }
  if (!ids && limits.embeddingDim === null) {
    throw new ServeError(400, 'unsupported_request', `this generator cannot read embeddings: ` +
      `send 'sequence' or 'sequences'`);
  }
  const mode = ids ? idMode(body as Record<string, unknown>, limits) : { original: false, skip: false };
  switch (key) {
    case 'sequence': return [idsRow(value, `'sequence'`, limits, mode)];
    case 'sequences':
      return rowsOf(value, key, limits).map((v, i) => idsRow(v, `'sequences'[${i}]`, limits, mode));
    case 'embeddings': return [embeddingsRow(value, `'embeddings'`, limits)];
    default:
      return rowsOf(value, key, limits).map((v, i) =>
        embeddingsRow(v, `'embeddingSequences'[${i}]`, limits));
  }
}
