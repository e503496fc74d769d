/**
 * Inference for one user: score candidate items against their history, or the top K of the
 * whole catalogue with a streaming top-K (no full sort). Two-tower models (see `splitTwoTower`)
 * run their user side once per call and score candidates with one matMul; other models (DIN)
 * run on the history tiled over the candidates.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import {
  dotItems, itemTowerOutputs, splitTwoTower, type TwoTowerParts, userTowerOutputs,
} from '../wrap/two_tower';
import { itemTable } from './item_vectors';
import { bindModelInputs, checkLogitModel, forwardLogits, type ModelInput } from './model_inputs';
import { checkPositiveInt } from './score';

/** The part of an item map (`IdMap`) `recommend` reads. */
export interface RecommendItemMap {
  indexOf(id: string | number): number | undefined;
  originalOf(index: number): string | undefined;
}

/** Options of {@link scoreCandidates}. */
export interface ScoreCandidatesOptions {
  /** Candidates per forward pass (scores do not depend on it). Default 4096. */
  batchSize?: number;
  /** The user id, required only by models with a `user` input. */
  user?: number;
}

/** Options of {@link recommend}. */
export interface RecommendOptions extends ScoreCandidatesOptions {
  /** The catalogue is items 1..numItems (0 is padding). Required. */
  numItems: number;
  /** How many items to return (fewer if fewer are eligible). Default 10. */
  k?: number;
  /** Items never to recommend, or `'history'` for the items in `click`. Default: none. */
  exclude?: Iterable<number | string> | 'history';
  /**
   * The item map (`IdMap`, e.g. `await readItemMap(modelDir)`): with it, `click` and `exclude`
   * hold the catalogue's own ids (strings, or numbers matched by their text; an id the map lacks
   * is an error naming it) and every recommendation carries its own `id`. Default: none (ids are
   * the model's indices).
   */
  items?: RecommendItemMap | null;
  /**
   * Two-tower models only: keep the item tower's outputs for 1..numItems between calls (see
   * `releaseItemVectors`), so a query costs one user-tower pass and one `[1, dim] · [dim, N]`
   * product. The cache follows weight updates by itself. When false, item vectors are computed
   * per call in batches of `batchSize`. Default true.
   */
  cacheItems?: boolean;
}

/**
 * One recommended item and its logit.
 *
 * @example
 * ```ts
 * const best: Recommendation = (await recommend(model, history, { numItems }))[0];
 * ```
 */
export interface Recommendation {
  /** The item's index in the model (1..numItems). */
  item: number;
  /** The model's logit for the item. */
  score: number;
  /** The item's own id, from the `items` map (only when one is given). */
  id?: string;
}

/** The history, validated, with padding zeros dropped (oldest first). */
function cleanHistory(click: ArrayLike<number>, fn: string): number[] {
  if (click === null || typeof click !== 'object' || typeof click.length !== 'number') {
    throw new Error(`'click' passed to '${fn}' must be an array of item ids (oldest first), got ${String(click)}`);
  }
  const out: number[] = [];
  for (let i = 0; i < click.length; i++) {
    const id = click[i];
    if (!Number.isInteger(id) || id < 0) {
      throw new Error(`'click' passed to '${fn}' must hold non-negative integer item ids, got ${String(id)} at index ${i}`);
    }
    if (id !== 0) out.push(id);
  }
  return out;
}

/** The last `width` items of `history`, right-padded with 0 to `width` (protocol duet-seq-v1). */
function lastItems(history: readonly number[], width: number): Int32Array {
  const row = new Int32Array(width);
  row.set(history.slice(Math.max(0, history.length - width)));
  return row;
}

/** Sequence widths the model declares; an unknown width takes the history's length. */
function modelWidths(model: tfl.LayersModel, history: readonly number[], fn: string) {
  checkLogitModel(model, fn);
  const width = (name: string) => {
    const input = model.inputs.find((t, i) => (t.sourceLayer?.name ?? model.inputNames[i]) === name);
    return input?.shape[1] ?? Math.max(1, history.length);
  };
  return { clickLength: width('click'), triggerLength: width('trigger') };
}

/** Per-request input tensors (`[1, …]` rows) reused across candidate batches. */
class Context {
  private readonly rows: Array<tf.Tensor | null>;
  private user: tf.Tensor | null = null;

  constructor(readonly inputs: ModelInput[], history: readonly number[], user: number | undefined,
      fn: string, readonly towers: TwoTowerParts | null) {
    this.rows = inputs.map((b) => {
      if (b.column === 'target') return null;
      if (b.column === 'user') {
        if (!Number.isInteger(user) || (user as number) < 0) {
          throw new Error(`'user' passed to '${fn}' must be a non-negative integer: the model has a ` +
            `'user' input; got ${String(user)}`);
        }
        return tf.tensor([user as number], [1, ...b.rowShape], b.dtype);
      }
      return tf.tensor(lastItems(history, b.width), [1, b.width], b.dtype);
    });
  }

  /** The user vector `[1, dim]` (two-tower models), computed on first use, owned by the context. */
  userVector(towers: TwoTowerParts): tf.Tensor {
    if (this.user === null) {
      const xs = towers.userInputs.map((i) => this.rows[i] as tf.Tensor);
      this.user = userTowerOutputs(towers, xs);
    }
    return this.user;
  }

  /** Logits of the candidates `ids`. */
  async score(model: tfl.LayersModel, ids: Int32Array): Promise<Float32Array> {
    const n = ids.length;
    const towers = this.towers;
    if (towers !== null) {
      const user = this.userVector(towers);
      const b = this.inputs[towers.targetInput];
      const logits = tf.tidy(() => {
        const targets = tf.tensor(b.dtype === 'int32' ? ids.slice() : Float32Array.from(ids), [n, ...b.rowShape], b.dtype);
        return dotItems(user, itemTowerOutputs(towers, targets));
      });
      try {
        return (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
    }
    const xs = tf.tidy(() => this.inputs.map((b, i) => {
      const row = this.rows[i];
      if (row === null) return tf.tensor(b.dtype === 'int32' ? ids.slice() : Float32Array.from(ids), [n, ...b.rowShape], b.dtype);
      return tf.tile(row, [n, ...b.rowShape.map(() => 1)]);
    }));
    let logits: tf.Tensor1D | undefined;
    try {
      logits = forwardLogits(model, xs, false);
      return (await logits.data()) as Float32Array;
    } finally {
      tf.dispose(xs);
      logits?.dispose();
    }
  }

  dispose(): void {
    tf.dispose(this.rows.filter((t): t is tf.Tensor => t !== null));
    this.user?.dispose();
  }
}

function prepare(model: tfl.LayersModel, click: ArrayLike<number>, user: number | undefined, fn: string) {
  const history = cleanHistory(click, fn);
  const inputs = bindModelInputs(model, modelWidths(model, history, fn), fn);
  if (!inputs.some((b) => b.column === 'target')) {
    throw new Error(`'${fn}': the model has no 'target' input to feed candidate items to`);
  }
  return { history, context: new Context(inputs, history, user, fn, splitTwoTower(model)) };
}

/**
 * The model's logit for each candidate item, given one user's history. The history is fed as
 * protocol duet-seq-v1 builds it: padding zeros in `click` are dropped, the last L items are
 * kept (L = the model's `click` width; longer histories are truncated to their most recent L
 * items) and right-padded with 0; a `trigger` input gets the last T items the same way.
 * A two-tower model (`splitTwoTower` is not null) runs its user side once and its item side on
 * the candidates (same logits up to float rounding); other models run on the tiled history.
 *
 * @param model A model with inputs named after dataset columns (`target` required) and one logit output.
 * @param click The user's item ids, oldest first.
 * @param candidates The items to score, positive integer ids.
 * @param options See {@link ScoreCandidatesOptions}.
 * @returns One logit per candidate, in order.
 * @throws When an id is not an integer of the right sign, batchSize is not a positive integer, a
 * model with a `user` input gets no user, or the model does not follow the input contract.
 * @example
 * ```ts
 * const logits = await scoreCandidates(model, [12, 7, 40], [3, 99, 512]);
 * ```
 */
export async function scoreCandidates(model: tfl.LayersModel, click: ArrayLike<number>,
    candidates: ArrayLike<number>, options: ScoreCandidatesOptions = {}): Promise<Float32Array> {
  const fn = 'scoreCandidates';
  const batchSize = checkPositiveInt(options.batchSize ?? 4096, fn, 'batchSize');
  if (candidates === null || typeof candidates !== 'object' || typeof candidates.length !== 'number') {
    throw new Error(`'candidates' passed to '${fn}' must be an array of item ids, got ${String(candidates)}`);
  }
  const ids = new Int32Array(candidates.length);
  for (let i = 0; i < ids.length; i++) {
    const id = candidates[i];
    if (!Number.isInteger(id) || id <= 0) {
      throw new Error(`'candidates' passed to '${fn}' must hold positive integer item ids, got ${String(id)} at index ${i}`);
    }
    ids[i] = id;
  }
  const { context } = prepare(model, click, options.user, fn);
  const out = new Float32Array(ids.length);
  try {
    for (let start = 0; start < ids.length; start += batchSize) {
      const part = ids.subarray(start, Math.min(start + batchSize, ids.length));
      out.set(await context.score(model, part), start);
    }
  } finally {
    context.dispose();
  }
  return out;
}

/**
 * A bounded min-heap keeping the best `k` (score, item) pairs seen: higher score first, equal
 * scores by lower item id, so results are deterministic. O(n log k) for n offers.
 */
class TopK {
  private readonly scores: Float64Array;
  private readonly items: Int32Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.scores = new Float64Array(k);
    this.items = new Int32Array(k);
  }

  /** Whether k pairs are kept. */
  get full(): boolean {
    return this.size === this.k;
  }

  /** The worst kept score (meaningful when full). */
  get worst(): number {
    return this.scores[0];
  }

  /** Whether (s1, i1) ranks below (s2, i2). */
  private static worse(s1: number, i1: number, s2: number, i2: number): boolean {
    return s1 < s2 || (s1 === s2 && i1 > i2);
  }

  offer(score: number, item: number): void {
    if (this.size < this.k) {
      let i = this.size++;
      // Sift up: the worst pair stays at the root.
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!TopK.worse(score, item, this.scores[parent], this.items[parent])) break;
        this.scores[i] = this.scores[parent];
        this.items[i] = this.items[parent];
        i = parent;
      }
      this.scores[i] = score;
      this.items[i] = item;
      return;
    }
    if (!TopK.worse(this.scores[0], this.items[0], score, item)) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      let child = left;
      const right = left + 1;
      if (right < this.size && TopK.worse(this.scores[right], this.items[right], this.scores[left], this.items[left])) {
        child = right;
      }
      if (!TopK.worse(this.scores[child], this.items[child], score, item)) break;
      this.scores[i] = this.scores[child];
      this.items[i] = this.items[child];
      i = child;
    }
    this.scores[i] = score;
    this.items[i] = item;
  }

  /** The kept pairs, best first. */
  sorted(): Recommendation[] {
    const out: Recommendation[] = [];
    for (let i = 0; i < this.size; i++) out.push({ item: this.items[i], score: this.scores[i] });
    return out.sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : a.item - b.item));
  }
}

/**
 * The top `k` items of the catalogue 1..numItems for one user, by the model's logit given their
 * history (fed as in {@link scoreCandidates}), kept in a bounded heap (no full sort). Equal
 * scores rank the lower item id first.
 *
 * A two-tower model (`splitTwoTower` is not null: SASRec, GRU4Rec, base or DUET) runs its user
 * side once, and with `cacheItems` (the default) scores the catalogue as one
 * `[1, dim] · [dim, numItems]` product against item vectors cached across calls (memory
 * O(numItems × dim) until {@link releaseItemVectors}; rebuilt when the weights change). Other
 * models (DIN) run on the history tiled over batches of `batchSize` candidates, memory
 * O(batchSize + k).
 *
 * @param model A model with inputs named after dataset columns (`target` required) and one logit output.
 * @param click The user's item ids, oldest first (padding zeros are dropped).
 * @param options See {@link RecommendOptions}; `numItems` is required.
 * @returns Up to `k` `{ item, score }`, best first (fewer when exclusions leave fewer items).
 * @throws When k or numItems is not a positive integer, batchSize is not a positive integer, an
 * id is invalid, or the model returns a NaN score.
 * @example
 * ```ts
 * const top = await recommend(model, [12, 7, 40], { numItems: 5000, k: 10, exclude: 'history' });
 * top[0]; // { item: 318, score: 4.2 }
 * // With the model folder's item map, in the catalogue's own ids:
 * const mine = await recommend(model, ['B0012', 'B0007'], { numItems, items: await readItemMap('models/duet') });
 * mine[0]; // { item: 17, score: 3.9, id: 'B0042' }
 * ```
 */
export async function recommend(model: tfl.LayersModel, click: ArrayLike<number | string>,
    options: RecommendOptions): Promise<Recommendation[]> {
  const fn = 'recommend';
  if (options === null || typeof options !== 'object') {
    throw new Error(`'options' passed to '${fn}' must be an object with at least 'numItems'`);
  }
  const map = options.items ?? null;
  if (map !== null) {
    if (typeof map.indexOf !== 'function' || typeof map.originalOf !== 'function') {
      throw new Error(`'items' passed to '${fn}' must be an IdMap (e.g. from readItemMap)`);
    }
    const toIndices = (ids: ArrayLike<number | string> | Iterable<number | string>, arg: string): number[] => {
      const list = Array.from(ids as Iterable<number | string>);
      const out: number[] = [];
      const unknown: string[] = [];
      for (const id of list) {
        const index = map.indexOf(id);
        if (index === undefined) unknown.push(JSON.stringify(id));
        else out.push(index);
      }
      if (unknown.length > 0) {
        throw new Error(`'${arg}' passed to '${fn}' holds ${unknown.length} id(s) the item map lacks: ` +
          `${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
      }
      return out;
    };
    if (click === null || typeof click !== 'object' || typeof (click as ArrayLike<unknown>).length !== 'number') {
      throw new Error(`'click' passed to '${fn}' must be an array of item ids (oldest first), got ${String(click)}`);
    }
    const exclude = options.exclude;
    const top = await recommend(model, toIndices(click, 'click'), {
      ...options, items: null,
      exclude: exclude === undefined || exclude === 'history' ? exclude :
        toIndices(exclude as Iterable<number | string>, 'exclude'),
    });
    return top.map((r) => ({ ...r, id: map.originalOf(r.item) ?? String(r.item) }));
  }
  const clickIndices = click as ArrayLike<number>;
  const numItems = checkPositiveInt(options.numItems, fn, 'numItems');
  const k = checkPositiveInt(options.k ?? 10, fn, 'k');
  const batchSize = checkPositiveInt(options.batchSize ?? 4096, fn, 'batchSize');
  const { exclude } = options;
  // Checked before prepare(), which allocates the history tensors.
  if (exclude !== undefined && exclude !== 'history' &&
      (exclude === null || typeof (exclude as Iterable<number>)[Symbol.iterator] !== 'function')) {
    throw new Error(`'exclude' passed to '${fn}' must be an iterable of item ids or 'history', got ${String(exclude)}`);
  }
  const cacheItems = options.cacheItems ?? true;
  if (typeof cacheItems !== 'boolean') {
    throw new Error(`'cacheItems' passed to '${fn}' must be a boolean, got ${String(cacheItems)}`);
  }
  const excluded = new Set<number>();
  if (exclude !== undefined && exclude !== 'history') {
    for (const id of exclude) {
      if (!Number.isInteger(id)) {
        throw new Error(`'exclude' passed to '${fn}' must hold integer item ids without an 'items' ` +
          `map, got ${JSON.stringify(id)}`);
      }
      excluded.add(id as number);
    }
  }
  const { history, context } = prepare(model, clickIndices, options.user, fn);
  if (exclude === 'history') for (const id of history) excluded.add(id);

  const top = new TopK(k);
  try {
    const towers = context.towers;
    if (towers !== null && cacheItems) {
      const table = itemTable(model, towers, numItems, batchSize);
      const user = context.userVector(towers);
      const logits = tf.tidy(() => tf.matMul(
        towers.itemBias ? tf.concat([user, tf.ones([1, 1])], 1) : user, table));
      let scores: Float32Array;
      try {
        scores = (await logits.data()) as Float32Array;
      } finally {
        logits.dispose();
      }
      offerAscending(top, scores, null, excluded, fn);
      return top.sorted();
    }
    const ids = new Int32Array(Math.min(batchSize, numItems));
    let item = 1;
    while (item <= numItems) {
      let n = 0;
      for (; item <= numItems && n < ids.length; item++) if (!excluded.has(item)) ids[n++] = item;
      if (n === 0) break;
      const batch = ids.subarray(0, n);
      offerAscending(top, await context.score(model, batch), batch, null, fn);
    }
  } finally {
    context.dispose();
  }
  return top.sorted();
}

/**
 * Offers `scores[i]` for item `items[i]` (or i + 1 when `items` is null) to `top`, skipping
 * `excluded` items. Items must ascend (within and across calls): an item tied with the worst
 * kept one then always loses the tie, so one comparison rejects most items.
 */
function offerAscending(top: TopK, scores: Float32Array, items: Int32Array | null,
    excluded: ReadonlySet<number> | null, fn: string): void {
  const checkExcluded = excluded !== null && excluded.size > 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    const item = items === null ? i + 1 : items[i];
    if (s !== s) throw new Error(`'${fn}': the model scored item ${item} as NaN`);
    if (top.full && s <= top.worst) continue;
    if (checkExcluded && (excluded as ReadonlySet<number>).has(item)) continue;
    top.offer(s, item);
  }
}
