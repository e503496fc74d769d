/**
 * `DeviceRuntime`: the device side of DUET. It keeps each user's recent behaviour, asks the
 * service for parameters when its policy says so, and scores candidates with the device model.
 * Browser-safe: no Node module, no training code.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { readDeviceMetadata } from '../serve/device_metadata';
import { PAYLOAD_FORMATS, PayloadFormat, payloadByteLength, PayloadLayer } from '../serve/payload';
import {
  dotItems, itemTowerOutputs, splitTwoTower, twoTowerReason, type TwoTowerParts, userTowerOutputs,
} from '../wrap/two_tower';
import { checkFiniteWeights } from '../wrap/finite_weights';
import { sameWeightVersion, weightVersion } from '../wrap/weight_version';
import { columnInputs, type InputsBuilder } from './default_inputs';
import { deviceLayout, sameLayout } from './device_layout';
import { FallbackReason, FetchLike, parametersUrl, requestParameters } from './fetch_parameters';
import { always, RequestPolicy } from './policies';
import './register_layers';

/**
 * The global `fetch`, called as a plain function: browsers throw "Illegal invocation" when it is
 * called as a method of another object (e.g. an options object holding it).
 */
const defaultFetch: FetchLike = (url, init) =>
  globalThis.fetch(url, init) as unknown as ReturnType<FetchLike>;

/** Options of {@link createDeviceRuntime}. */
export interface DeviceRuntimeOptions {
  /**
   * The device model (the device part from `splitDuet` (from `duet-tf`)): a URL of its `model.json`, an
   * `IOHandler` (e.g. `indexeddb://…` via `tf.io.browserIndexedDB`, or `fileSystem(dir)` in
   * Node), or a loaded LayersModel. Required.
   */
  model: string | tf.io.IOHandler | tfl.LayersModel;
  /** Base URL of the generation service, e.g. `https://duet.example`. Required. */
  serviceUrl: string;
  /**
   * The generator fingerprint payloads must carry. Default: the one
   * `stampDeviceModel` (from `duet-tf`) stored in the model's metadata (required if there is none).
   */
  fingerprint?: string;
  /** Payload format to ask for. Default `'f16'` (half the bytes of f32, error ≤ 2^-11 relative). */
  format?: PayloadFormat;
  /** How long to wait for the service, in ms, before falling back. Default 1000. */
  timeoutMs?: number;
  /** How long a user's last parameters stay usable, in ms. Default 300000 (5 minutes). */
  cacheTtlMs?: number;
  /** After a failed request, how long to use the fallback before asking again, in ms. Default 1000. */
  retryAfterMs?: number;
  /** When to ask for new parameters. Default {@link always}. */
  policy?: RequestPolicy;
  /** How many of a user's most recent items are kept and sent. Default 50. */
  historyLength?: number;
  /** Most users whose history and parameters are kept (least recently used go first). Default 100. */
  maxUsers?: number;
  /** Bearer token for a service started with one. Default: none. */
  token?: string;
  /** The `fetch` to use. Default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * Privacy mode: the generator's item embedding table `[vocab, dim]` (see
   * `generatorEmbeddingTable` (from `duet-tf`)). When given, requests carry the items' embeddings instead
   * of their ids. Default: ids are sent.
   */
  embeddingTable?: tf.Tensor2D;
  /**
   * Parameters used when fresh ones are unavailable. Default: the base parameters stored by
   * `stampDeviceModel` (from `duet-tf`), else all zeros, which for residual dynamic layers (the
   * `duetWrap` (from `duet-tf`) default) is exactly the static model. A model with non-residual dynamic
   * layers and neither of these is rejected: zero kernels would score every candidate alike.
   */
  fallbackParameters?: Float32Array | readonly number[];
  /**
   * The catalogue's own item ids in the model's index order: `items[i]` is the id of index
   * `i + 1` (the `items.tsv` of the model folder, read in order). With it, every id the runtime
   * takes or returns (`observe`, `history`, `topK`) is one of these. Default: the item map
   * `stampDeviceModel(parts, { items })` (from `duet-tf`) stored in the model's metadata, else
   * none: ids are the model's indices 1..N.
   */
  items?: readonly string[];
  /**
   * Builds the device model's inputs (all but the parameters) for candidate items and the user's
   * history, both as the model's indices; used by {@link DeviceRuntime.topK}. The runtime
   * disposes the tensors. An input only the user side reads (e.g. `click`) may be one row shared
   * by all candidates (see {@link DeviceRuntime.score}). Default: for a model whose inputs are
   * named `target` and `click` / `trigger` (the reference SASRec, GRU4Rec and DIN), the candidates
   * as `target` `[n, 1]` and the history's last L items as one `[1, L]` row, right-padded with 0,
   * as in training; other models need this function.
   */
  inputs?: InputsBuilder;
  /** Clock in ms, for tests. Default `Date.now`. */
  clock?: () => number;
}

/** Parameters for one user and where they came from. */
export interface DeviceParameters {
  /** The parameter vector, in the device layout's order. */
  values: Float32Array;
  /**
   * `'service'`: fetched now; `'cache'`: fetched earlier and still valid; `'base'`: the
   * fallback (static) parameters.
   */
  source: 'service' | 'cache' | 'base';
  /** Why fresh parameters were wanted but not obtained, else null. */
  reason: FallbackReason | null;
  /** A readable account of `reason`, else null. */
  message: string | null;
  /** Whether this call sent a request to the service. */
  requested: boolean;
}

/** Counts since the runtime was created. */
export interface DeviceRuntimeStats {
  /** Calls asking for parameters (directly or through score/topK). */
  calls: number;
  /** Requests sent to the service. */
  requests: number;
  /** Requests that returned valid parameters. */
  successes: number;
  /** Calls answered from the cache. */
  cacheHits: number;
  /** Calls answered with the fallback parameters. */
  baseUses: number;
  /** Failures by reason (including `'no-history'`, which sends no request). */
  failures: Record<FallbackReason, number>;
  /** Items passed to `observe` that are not in the item map (not recorded). */
  unknownItems: number;
  /** Bytes of the valid payloads received. */
  bytesReceived: number;
}

/**
 * An item id as the app knows it: one of the catalogue's own ids (the item map's; a number is
 * looked up by its text), or, for a runtime without an item map, the model's index.
 */
export type ItemId = string | number;

interface UserState {
  history: number[];
  newInteractions: number;
  cache: { values: Float32Array; at: number; history: number[] } | null;
  failure: { at: number; reason: FallbackReason; message: string } | null;
  pending: Promise<DeviceParameters> | null;
  /** The last user vector (two-tower models) and what it was computed from. */
  vector: UserVector | null;
}

/** A user vector `[1, dim]`, valid while its inputs, parameters and the weights are unchanged. */
interface UserVector {
  /** The values of each user-side input row (the parameters included), in tower order. */
  rows: ArrayLike<number>[];
  /** `weightVersion` of the user tower. */
  weights: object[];
  value: tf.Tensor;
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * How {@link DeviceRuntime.score} runs the device model.
 *
 * @example
 * ```ts
 * if (runtime.scoring.path === 'tiled') console.info(runtime.scoring.reason);
 * ```
 */
export interface DeviceScoring {
  /**
   * `'two-tower'`: the user side (history and parameters) runs at most once per call, its vector
   * kept per user while history, parameters and weights are unchanged, and the candidates are
   * scored by one matMul with their item vectors (see `splitTwoTower`); `'tiled'`: the model
   * runs on every candidate row with the parameters tiled (models such as DIN).
   */
  path: 'two-tower' | 'tiled';
  /** Why the model is not two-tower, for `'tiled'`; else null. */
  reason: string | null;
}

/** A scored candidate. */
export interface ScoredItem {
  /** The candidate, as given to `topK` (an id of the catalogue's own when there is an item map). */
  id: ItemId;
  /** The model's score. */
  score: number;
}

function positiveInt(value: unknown, fallback: number, key: string, min = 1): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`'${key}' passed to 'createDeviceRuntime' must be an integer >= ${min}, ` +
      `got ${String(value)}`);
  }
  return v;
}

/**
 * The device runtime. Create it with {@link createDeviceRuntime}.
 *
 * @example
 * ```ts
 * const runtime = await createDeviceRuntime({ model: '/models/device/model.json',
 *   serviceUrl: 'https://duet.example', policy: everyN(3), inputs: buildInputs });
 * runtime.observe('me', 42);                       // the user clicked item 42
 * const { items, parameters } = await runtime.topK('me', candidateIds, 5);
 * if (parameters.reason !== null) console.warn('static model:', parameters.reason);
 * ```
 */
export class DeviceRuntime {
  /** The device model. */
  readonly model: tfl.LayersModel;
  /** The generated layers, in parameter order. */
  readonly layout: readonly PayloadLayer[];
  /** The generator fingerprint accepted payloads carry. */
  readonly fingerprint: string;
  /** The parameters used when fresh ones are unavailable. */
  readonly baseParameters: Float32Array;
  /** The request policy. */
  readonly policy: RequestPolicy;
  /** How candidates are scored (decided once from the model's graph). */
  readonly scoring: DeviceScoring;

  private readonly users = new Map<string, UserState>();
  private readonly counts: DeviceRuntimeStats = {
    calls: 0, requests: 0, successes: 0, cacheHits: 0, baseUses: 0, bytesReceived: 0,
    failures: { unreachable: 0, timeout: 0, fingerprint: 0, http: 0, payload: 0, 'no-history': 0 },
    unknownItems: 0,
  };
  /** The item map (original id → index, and back), or null: ids are indices. */
  private readonly itemIndex: Map<string, number> | null;
  private readonly itemIds: readonly string[] | null;
  private readonly buildInputs: InputsBuilder | null;
  private readonly inputsReason: string | null;
  private readonly table: { values: Float32Array; rows: number; dim: number } | null;
  private readonly towers: TwoTowerParts | null;

  /** @internal Use {@link createDeviceRuntime}. */
  constructor(model: tfl.LayersModel, private readonly options: DeviceRuntimeOptions,
      private readonly ownsModel: boolean) {
    this.model = model;
    const layout = deviceLayout(model);
    const meta = readDeviceMetadata(model);
    if (meta !== null && !sameLayout(meta.layout, layout.layers)) {
      throw new Error(`'createDeviceRuntime': the layout in model '${model.name}''s metadata ` +
        `does not match its DynamicDense layers`);
    }
    this.layout = layout.layers;
    const fingerprint = options.fingerprint ?? meta?.fingerprint;
    if (typeof fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(fingerprint)) {
      throw new Error(fingerprint === undefined ?
        `'createDeviceRuntime' needs the generator's 'fingerprint': pass it, or publish the ` +
        `device model stamped with stampDeviceModel` :
        `'fingerprint' passed to 'createDeviceRuntime' must be 16 lowercase hex digits, got ` +
        `${JSON.stringify(fingerprint)}`);
    }
    this.fingerprint = fingerprint;
    const base = options.fallbackParameters ?? meta?.baseParameters;
    if (base === undefined && !layout.residual) {
      throw new Error(`'createDeviceRuntime': model '${model.name}' has non-residual dynamic ` +
        `layers, so all-zero parameters are no fallback; pass 'fallbackParameters' or stamp ` +
        `the model with stampDeviceModel`);
    }
    this.baseParameters = base === undefined ? new Float32Array(layout.total) : Float32Array.from(base);
    if (this.baseParameters.length !== layout.total ||
        this.baseParameters.some((v) => !Number.isFinite(v))) {
      throw new Error(`'fallbackParameters' passed to 'createDeviceRuntime' must be ` +
        `${layout.total} finite numbers, got ${this.baseParameters.length}`);
    }
    this.policy = options.policy ?? always();
    if (typeof this.policy?.shouldRequest !== 'function') {
      throw new Error(`'policy' passed to 'createDeviceRuntime' must be a RequestPolicy ` +
        `(always(), everyN(n) or drift(threshold))`);
    }
    const table = options.embeddingTable;
    if (table !== undefined) {
      if (!(table instanceof tf.Tensor) || table.rank !== 2) {
        throw new Error(`'embeddingTable' passed to 'createDeviceRuntime' must be a 2-D tensor`);
      }
      this.table = { values: Float32Array.from(table.dataSync()), rows: table.shape[0], dim: table.shape[1] };
    } else {
      this.table = null;
    }
    const items = options.items ?? meta?.items;
    if (items !== undefined && (!Array.isArray(items) || items.some((id) => typeof id !== 'string' || id === ''))) {
      throw new Error(`'items' passed to 'createDeviceRuntime' must be an array of the catalogue's ` +
        `item ids (non-empty strings) in index order`);
    }
    this.itemIds = items === undefined ? null : Object.freeze([...items]);
    this.itemIndex = items === undefined ? null : new Map(items.map((id, i) => [id, i + 1]));
    if (options.inputs !== undefined && typeof options.inputs !== 'function') {
      throw new Error(`'inputs' passed to 'createDeviceRuntime' must be a function ` +
        `(candidates, history) => tensors`);
    }
    const columns = options.inputs === undefined ? columnInputs(model) : { inputs: options.inputs };
    this.buildInputs = 'inputs' in columns ? columns.inputs : null;
    this.inputsReason = 'reason' in columns ? columns.reason : null;
    this.towers = splitTwoTower(model);
    this.scoring = this.towers === null ? { path: 'tiled', reason: twoTowerReason(model) } :
      { path: 'two-tower', reason: null };
  }

  private get now(): number {
    return (this.options.clock ?? Date.now)();
  }

  private user(userId: string): UserState {
    let state = this.users.get(userId);
    if (state === undefined) {
      state = { history: [], newInteractions: 0, cache: null, failure: null, pending: null, vector: null };
      const max = positiveInt(this.options.maxUsers, 100, 'maxUsers');
      if (this.users.size >= max) {
        const oldest = this.users.keys().next().value as string;
        this.users.get(oldest)?.vector?.value.dispose();
        this.users.delete(oldest);
      }
    } else {
      this.users.delete(userId); // re-inserted below: Map order is the LRU order
    }
    this.users.set(userId, state);
    return state;
  }

  /** The model index of an app's item id, or undefined when the item map lacks it. */
  private indexOf(id: ItemId): number | undefined {
    if (this.itemIndex === null) return Number.isInteger(id) && (id as number) >= 1 ? id as number : undefined;
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ?
      this.itemIndex.get(String(id)) : undefined;
  }

  /**
   * Records interactions (item ids, oldest first) for a user; returns how many were recorded.
   * With an item map, an id it lacks (an item newer than the model) is not recorded: it is
   * counted in `stats().unknownItems` instead.
   *
   * @example
   * ```ts
   * runtime.observe('me', ['B0012', 'B0007']);
   * ```
   */
  observe(userId: string, items: ItemId | readonly ItemId[]): number {
    const list = Array.isArray(items) ? items : [items];
    const bad = list.find((id) => (this.itemIndex === null ? !Number.isInteger(id) || (id as number) < 1 :
      !(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))));
    if (bad !== undefined) {
      throw new Error(`'items' passed to 'DeviceRuntime.observe' must be item ids (` +
        `${this.itemIndex === null ? 'positive integers: this runtime has no item map' :
          "the catalogue's ids, strings or numbers"}), got ${JSON.stringify(items)}`);
    }
    const indices: number[] = [];
    for (const id of list) {
      const index = this.indexOf(id);
      if (index === undefined) this.counts.unknownItems++;
      else indices.push(index);
    }
    const state = this.user(userId);
    state.history.push(...indices);
    const keep = positiveInt(this.options.historyLength, 50, 'historyLength');
    if (state.history.length > keep) state.history.splice(0, state.history.length - keep);
    state.newInteractions += indices.length;
    return indices.length;
  }

  /** The user's recent items, oldest first (the catalogue's ids with an item map, else indices). */
  history(userId: string): ItemId[] {
    const history = this.users.get(userId)?.history ?? [];
    const ids = this.itemIds;
    return ids === null ? [...history] : history.map((i) => ids[i - 1]);
  }

  /** Forgets cached parameters (of one user, or everyone's). Histories are kept. */
  clearCache(userId?: string): void {
    const states = userId === undefined ? [...this.users.values()] :
      [this.users.get(userId)].filter((s): s is UserState => s !== undefined);
    for (const s of states) {
      s.cache = null;
      s.failure = null;
      s.vector?.value.dispose();
      s.vector = null;
    }
  }

  /** Counts of calls, requests, cache hits and fallbacks. */
  stats(): DeviceRuntimeStats {
    return { ...this.counts, failures: { ...this.counts.failures } };
  }

  /**
   * The user's parameters: from the cache when it is valid and the policy does not ask for
   * new ones, else from the service; on failure from the cache if still valid, else the base
   * parameters, with the reason.
   */
  async parameters(userId: string): Promise<DeviceParameters> {
    this.counts.calls++;
    const state = this.user(userId);
    const now = this.now;
    const ttl = positiveInt(this.options.cacheTtlMs, 300_000, 'cacheTtlMs', 0);
    const cache = state.cache !== null && now - state.cache.at <= ttl ? state.cache : null;
    const fallback = (reason: FallbackReason | null, message: string | null): DeviceParameters => {
      if (cache !== null) {
        this.counts.cacheHits++;
        return { values: cache.values, source: 'cache', reason, message, requested: false };
      }
      this.counts.baseUses++;
      return { values: this.baseParameters, source: 'base', reason, message, requested: false };
    };
    if (state.history.length === 0) {
      if (cache !== null) return fallback(null, null);
      this.counts.failures['no-history']++;
      return fallback('no-history', 'no interactions observed yet for this user');
    }
    const wanted = cache === null || this.policy.shouldRequest({
      history: state.history, newInteractions: state.newInteractions,
      historyAtRequest: cache.history,
    });
    if (!wanted) return fallback(null, null);
    const retryAfter = positiveInt(this.options.retryAfterMs, 1000, 'retryAfterMs', 0);
    if (state.failure !== null && now - state.failure.at < retryAfter) {
      return fallback(state.failure.reason, state.failure.message);
    }
    if (state.pending !== null) return { ...(await state.pending), requested: false };
    state.pending = this.request(state, fallback).finally(() => {
      state.pending = null;
    });
    return state.pending;
  }

  private async request(state: UserState,
      fallback: (reason: FallbackReason, message: string) => DeviceParameters):
      Promise<DeviceParameters> {
    const history = [...state.history];
    const count = history.length;
    const format = this.options.format ?? 'f16';
    this.counts.requests++;
    const response = await requestParameters({
      fetch: this.options.fetch ?? defaultFetch,
      url: parametersUrl(this.options.serviceUrl, format),
      body: this.requestBody(history),
      token: this.options.token,
      timeoutMs: positiveInt(this.options.timeoutMs, 1000, 'timeoutMs'),
      fingerprint: this.fingerprint,
      layout: this.layout,
      maxBytes: payloadByteLength(this.layout, { format }),
    });
    if (!response.ok) {
      this.counts.failures[response.reason]++;
      state.failure = { at: this.now, reason: response.reason, message: response.message };
      return fallback(response.reason, response.message);
    }
    this.counts.successes++;
    this.counts.bytesReceived += response.bytes;
    state.failure = null;
    state.cache = { values: response.values, at: this.now, history };
    // Interactions observed while the request was in flight still count as new.
    state.newInteractions = Math.max(0, state.newInteractions - count);
    return { values: response.values, source: 'service', reason: null, message: null, requested: true };
  }

  private requestBody(history: number[]): unknown {
    // The runtime keeps the model's indices; saying so keeps a service with an item map from
    // reading them as the catalogue's own ids.
    if (this.table === null) return { sequence: history, ids: 'internal' };
    const { values, rows, dim } = this.table;
    const embeddings = history.filter((id) => id < rows).map((id) =>
      Array.from(values.subarray(id * dim, (id + 1) * dim)));
    return { embeddings };
  }

  /**
   * Scores candidates with the user's parameters: `inputs` are the device model's inputs except
   * the parameter vector, one row per candidate (the caller keeps ownership of them). An input
   * that only the user side reads (e.g. `click` of a SASRec or GRU4Rec device model) may instead
   * be one row shared by every candidate. On a two-tower device model (`scoring.path`) the user
   * side runs at most once per call, on that row (or on the first row, when all rows are equal),
   * and the parameters are never tiled: the user's vector is kept and reused while the user-side
   * rows, the parameters and the weights stay the same (e.g. re-ranking new candidates between
   * two interactions). Otherwise the model runs on every row.
   *
   * @example
   * ```ts
   * const { scores } = await runtime.score('me', [candidateFeatures]);
   * // A SASRec device model: target ids [n, 1] and the history as one row [1, L].
   * const { scores: s } = await runtime.score('me', [tf.tensor2d(ids, [n, 1]), tf.tensor2d(history, [1, L])]);
   * ```
   */
  async score(userId: string, inputs: tf.Tensor[]):
      Promise<{ scores: Float32Array; parameters: DeviceParameters }> {
    const expected = this.model.inputs.length - 1;
    if (!Array.isArray(inputs) || inputs.length !== expected || inputs.some((t) => !(t instanceof tf.Tensor))) {
      throw new Error(`'inputs' passed to 'DeviceRuntime.score' must be ${expected} tensor(s), ` +
        `the device model's inputs ${this.model.inputs.slice(0, -1).map((t) => `'${t.name}'`).join(', ')} ` +
        `(the parameters are added by the runtime)`);
    }
    const rows = inputs.reduce((n, t) => Math.max(n, t.shape[0] ?? 1), 1);
    if (inputs.some((t) => t.shape[0] !== 1 && t.shape[0] !== rows)) {
      throw new Error(`'inputs' passed to 'DeviceRuntime.score' must each have ${rows} rows (one ` +
        `per candidate) or 1 row (shared), got [${inputs.map((t) => t.shape[0]).join(', ')}]`);
    }
    let parameters = await this.parameters(userId);
    let scores = await this.scoreWith(userId, inputs, rows, parameters.values);
    const bad = scores.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0 && parameters.source !== 'base') {
      // Finite but extreme parameters (a faulty or hostile service) can still overflow the model:
      // such parameters are dropped like a corrupt payload, and the static ones score instead.
      parameters = this.dropParameters(userId, parameters.requested, `the service's parameters ` +
        `give non-finite scores (row ${bad} scores ${scores[bad]}); using the static parameters`);
      scores = await this.scoreWith(userId, inputs, rows, parameters.values);
    }
    return { scores, parameters };
  }

  /** The model's score per row with these parameters. */
  private async scoreWith(userId: string, inputs: tf.Tensor[], rows: number,
      values: Float32Array): Promise<Float32Array> {
    const out = (await this.scoreTwoTower(userId, inputs, rows, values)) ?? tf.tidy(() => {
      const params = tf.tile(tf.tensor2d(values, [1, values.length]), [rows, 1]);
      const xs = inputs.map((t) => (t.shape[0] === rows ? t : tf.tile(t, [rows, ...t.shape.slice(1).map(() => 1)])));
      // One pass for all candidates (predict's default batchSize of 32 would split them).
      const result = this.model.predict([...xs, params], { batchSize: rows });
      return Array.isArray(result) ? result[0] : result;
    });
    try {
      if (out.size !== rows) {
        throw new Error(`'DeviceRuntime.score' needs one score per row; the device model's ` +
          `output has shape [${out.shape.join(', ')}] for ${rows} rows`);
      }
      return Float32Array.from(await out.data());
    } finally {
      out.dispose();
    }
  }

  /**
   * Forgets the user's fetched parameters as unusable (reason `'payload'`, no new request
   * within `retryAfterMs`) and returns the base parameters in their place.
   */
  private dropParameters(userId: string, requested: boolean, message: string): DeviceParameters {
    const state = this.user(userId);
    state.cache = null;
    state.vector?.value.dispose();
    state.vector = null;
    state.failure = { at: this.now, reason: 'payload', message };
    this.counts.failures.payload++;
    this.counts.baseUses++;
    if (requested) this.counts.successes--; // counted when they arrived: they were not usable
    return { values: this.baseParameters, source: 'base', reason: 'payload', message, requested };
  }

  /**
   * The two-tower scores `[rows]`, or null when the model is not two-tower, or when a user-side
   * input has rows that differ (then every row is its own user: the tiled path is as cheap).
   */
  private async scoreTwoTower(userId: string, inputs: tf.Tensor[], rows: number,
      params: Float32Array): Promise<tf.Tensor | null> {
    const towers = this.towers;
    if (towers === null || inputs[towers.targetInput].shape[0] !== rows) return null;
    const paramsIndex = this.model.inputs.length - 1;
    // The values of one row of each user-side input: the key of the cached user vector.
    const values: ArrayLike<number>[] = [];
    for (const i of towers.userInputs) {
      if (i === paramsIndex) {
        values.push(params);
        continue;
      }
      const x = inputs[i];
      const data = (await x.data()) as Float32Array | Int32Array;
      const width = data.length / x.shape[0];
      for (let j = width; j < data.length; j++) if (data[j] !== data[j % width]) return null;
      values.push(data.subarray(0, width));
    }
    const state = this.users.get(userId);
    const weights = weightVersion(towers.user);
    let vector = state?.vector ?? null;
    if (vector === null || !sameWeightVersion(vector.weights, weights) ||
        !vector.rows.every((row, k) => sameValues(row, values[k]))) {
      const value = tf.tidy(() => {
        const xs = towers.userInputs.map((i, k) => i === paramsIndex ?
          tf.tensor2d(params, [1, params.length]) :
          tf.tensor((values[k] as Float32Array | Int32Array).slice(), [1, ...inputs[i].shape.slice(1)], inputs[i].dtype));
        return userTowerOutputs(towers, xs);
      });
      vector = { rows: values.map((v) => Float64Array.from(v)), weights: weights ?? [], value };
      if (state !== undefined && weights !== null) {
        state.vector?.value.dispose();
        state.vector = vector;
      }
    }
    const user = vector.value;
    const cached = state?.vector === vector;
    try {
      return tf.tidy(() => dotItems(user, itemTowerOutputs(towers, inputs[towers.targetInput])));
    } finally {
      if (!cached) user.dispose();
    }
  }

  /**
   * The `k` best candidates for the user, best first, scored with the user's parameters. The
   * candidates are item ids as the app knows them (the catalogue's own with an item map) and
   * come back as given; the model inputs come from the `inputs` option, or its default for
   * models with `target` / `click` inputs (or are given here).
   *
   * @example
   * ```ts
   * const { items } = await runtime.topK('me', ['B0005', 'B0009', 'B0014'], 2); // [{ id, score }, …]
   * ```
   */
  async topK(userId: string, candidates: readonly ItemId[], k: number, inputs?: tf.Tensor[]):
      Promise<{ items: ScoredItem[]; parameters: DeviceParameters }> {
    if (!Array.isArray(candidates) || candidates.length === 0) {
      throw new Error(`'candidates' passed to 'DeviceRuntime.topK' must be a non-empty array of item ids`);
    }
    if (!Number.isInteger(k) || k <= 0) {
      throw new Error(`'k' passed to 'DeviceRuntime.topK' must be a positive integer, got ${String(k)}`);
    }
    const indices = candidates.map((id) => this.indexOf(id));
    const unknown = candidates.filter((_, i) => indices[i] === undefined);
    if (unknown.length > 0) {
      throw new Error(`'candidates' passed to 'DeviceRuntime.topK' hold ${unknown.length} id(s) ` +
        `the model does not know: ${unknown.slice(0, 10).map((id) => JSON.stringify(id)).join(', ')}` +
        `${this.itemIndex === null ? ' (this runtime has no item map: ids are indices 1..N)' : ''}`);
    }
    let owned: tf.Tensor[] = [];
    if (inputs === undefined) {
      if (this.buildInputs === null) {
        throw new Error(`'DeviceRuntime.topK' needs model inputs: ${this.inputsReason}; give ` +
          `createDeviceRuntime an 'inputs' function (candidates, history) => tensors, or pass them`);
      }
      owned = this.buildInputs(indices as number[], this.users.get(userId)?.history ?? []);
    }
    try {
      const { scores, parameters } = await this.score(userId, inputs ?? owned);
      if (scores.length !== candidates.length) {
        throw new Error(`'DeviceRuntime.topK': ${scores.length} scores for ${candidates.length} candidates`);
      }
      const items = candidates.map((id, i) => ({ id, score: scores[i], i }))
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, k)
        .map(({ id, score }) => ({ id, score }));
      return { items, parameters };
    } finally {
      tf.dispose(owned);
    }
  }

  /** Releases the device model when the runtime loaded it. */
  dispose(): void {
    for (const s of this.users.values()) s.vector?.value.dispose();
    this.users.clear();
    if (this.ownsModel) this.model.dispose();
  }
}

/**
 * Loads the device model and creates a {@link DeviceRuntime}.
 *
 * @example
 * ```ts
 * const runtime = await createDeviceRuntime({
 *   model: 'https://cdn.example/duet/device/model.json',
 *   serviceUrl: 'https://duet.example', timeoutMs: 300, policy: drift(0.3),
 * });
 * ```
 */
export async function createDeviceRuntime(options: DeviceRuntimeOptions): Promise<DeviceRuntime> {
  if (options === null || typeof options !== 'object' || options.model === undefined) {
    throw new Error(`'createDeviceRuntime' needs options with 'model' and 'serviceUrl'`);
  }
  if (typeof options.serviceUrl !== 'string' || !/^https?:\/\//.test(options.serviceUrl)) {
    throw new Error(`'serviceUrl' passed to 'createDeviceRuntime' must be an http(s) URL, got ` +
      `${JSON.stringify(options.serviceUrl)}`);
  }
  if (options.format !== undefined && !PAYLOAD_FORMATS.includes(options.format)) {
    throw new Error(`'format' passed to 'createDeviceRuntime' must be 'f32', 'f16' or 'int8', ` +
      `got ${JSON.stringify(options.format)}`);
  }
  if (options.fetch === undefined && typeof globalThis.fetch !== 'function') {
    throw new Error(`'createDeviceRuntime': this runtime has no global fetch; pass 'fetch'`);
  }
  for (const [key, min, fallback] of [['timeoutMs', 1, 1000], ['cacheTtlMs', 0, 0],
    ['retryAfterMs', 0, 0], ['historyLength', 1, 50], ['maxUsers', 1, 100]] as const) {
    positiveInt(options[key], fallback, key, min);
  }
  // tfjs-core alone has no backend: say which import is missing, not "No backend found in registry".
  if (Object.keys(tf.engine().registryFactory).length === 0) {
    throw new Error(`'createDeviceRuntime': no TensorFlow.js backend is loaded; import one first, ` +
      `e.g. import '@tensorflow/tfjs-backend-webgl' or '@tensorflow/tfjs-backend-cpu' (or ` +
      `'@tensorflow/tfjs-backend-wasm' and await tf.setBackend('wasm'))`);
  }
  let model: tfl.LayersModel;
  let owns = true;
  if (options.model instanceof tfl.LayersModel) {
    model = options.model;
    owns = false;
  } else {
    model = await tfl.loadLayersModel(options.model as string | tf.io.IOHandler);
  }
  try {
    // NaN weights would make every score NaN, fetched parameters or not.
    checkFiniteWeights(model, 'createDeviceRuntime');
    return new DeviceRuntime(model, options, owns);
  } catch (e) {
    if (owns) model.dispose();
    throw e;
  }
}
