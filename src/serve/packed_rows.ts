/**
 * `packRows`: a batch of request rows as the generator's input arrays (ids padded to the input
 * length, embeddings and their mask), plain typed arrays that can cross to a worker thread as
 * transferred buffers, with no JSON of numbers.
 */
import type { GeneratorRow } from './requests';

/** A batch of rows, packed: what {@link GeneratorRunner.generatePacked} runs. */
export interface PackedRows {
  /** Rows in all. */
  count: number;
  /** Per row, in request order: 0 item ids, 1 embeddings. */
  kinds: Uint8Array;
  /** The ids rows, in order: `[idRows × L]`, right-padded with 0. */
  ids: Float32Array;
  /** The embeddings rows, in order: `[embeddingRows × L × dim]`, zero past each row's time. */
  embeddings: Float32Array;
  /** The embeddings rows' mask: `[embeddingRows × L]`, 1 for each real item. */
  mask: Float32Array;
}

/**
 * Packs `rows` for a generator of input length `sequenceLength` (and embedding size
 * `embeddingDim`, for embeddings rows). Rows are cut to the length already (see
 * `parseParametersRequest`); an ids row longer than it keeps its last items.
 *
 * @example
 * ```ts
 * const packed = packRows([{ kind: 'ids', ids: [3, 9] }], 5, null);
 * // { count: 1, kinds: [0], ids: [3, 9, 0, 0, 0], embeddings: [], mask: [] }
 * ```
 */
export function packRows(rows: readonly GeneratorRow[], sequenceLength: number,
    embeddingDim: number | null): PackedRows {
  const L = sequenceLength;
  const kinds = new Uint8Array(rows.length);
  let embeddingRows = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].kind === 'embeddings') {
      kinds[i] = 1;
      embeddingRows++;
    }
  }
  if (embeddingRows > 0 && embeddingDim === null) {
    throw new Error(`'packRows': embeddings rows need the generator's embedding size`);
  }
  const dim = embeddingDim ?? 0;
  const ids = new Float32Array((rows.length - embeddingRows) * L);
  const embeddings = new Float32Array(embeddingRows * L * dim);
  const mask = new Float32Array(embeddingRows * L);
  let b = 0;
  let e = 0;
  for (const row of rows) {
    if (row.kind === 'ids') {
      const kept = row.ids.length > L ? row.ids.slice(-L) : row.ids;
      ids.set(kept, b++ * L);
    } else {
      embeddings.set(row.vectors.subarray(0, Math.min(row.time, L) * dim), e * L * dim);
      mask.fill(1, e * L, e * L + Math.min(row.time, L));
      e++;
    }
  }
  return { count: rows.length, kinds, ids, embeddings, mask };
}

/**
 * The buffers of a packed batch, for `postMessage`'s transfer list (they are detached on the
 * sending side).
 *
 * @example
 * ```ts
 * worker.postMessage({ type: 'run', packed }, packedBuffers(packed));
 * ```
 */
export function packedBuffers(packed: PackedRows): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of [packed.kinds, packed.ids, packed.embeddings, packed.mask]) {
    if (a.buffer instanceof ArrayBuffer && a.buffer.byteLength > 0) buffers.add(a.buffer);
  }
  return [...buffers];
}
