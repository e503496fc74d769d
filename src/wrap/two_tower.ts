/**
 * Two-tower analysis: finds whether a model's logit is ⟨user(history…), item(target)⟩ (+ a bias
 * that depends on the target only), and if so cuts it into a user model and an item model that
 * share the original layers. Scoring N candidates for one user then runs the user side once
 * instead of N times. Browser-safe (TF.js only), so the device runtime uses it too.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { type GraphNode, modelEnds, modelNodes } from './graph';

type Sym = tfl.SymbolicTensor;

/**
 * Options of {@link splitTwoTower} and {@link twoTowerReason}.
 *
 * @example
 * ```ts
 * const parts = splitTwoTower(model, { target: 'item' } satisfies TwoTowerOptions);
 * ```
 */
export interface TwoTowerOptions {
  /** Name of the item-side input (its layer's name). Default `'target'`. */
  target?: string;
}

/**
 * A model cut into its two towers. The towers share the original model's layers and weights
 * (training the model updates them); do not dispose them, dispose the original model.
 *
 * @example
 * ```ts
 * const parts: TwoTowerParts | null = splitTwoTower(model);
 * parts?.userInputs; // [1]: the user tower reads model.inputs[1] ('click')
 * ```
 */
export interface TwoTowerParts {
  /** The inputs listed in `userInputs` (in that order) → the user vector `[batch, dim]`. */
  user: tfl.LayersModel;
  /**
   * The target input → the item vector `[batch, dim]`, and when `itemBias` is true a second
   * output, the bias `[batch, 1]` added to the dot product (e.g. the reference models' `itemBias`).
   */
  item: tfl.LayersModel;
  /** Positions in `model.inputs` of the user tower's inputs (every input it depends on). */
  userInputs: readonly number[];
  /** Position in `model.inputs` of the target input. */
  targetInput: number;
  /** Width of both vectors. */
  dim: number;
  /** Whether `item` has the bias output. */
  itemBias: boolean;
}

type Analysis = { parts: TwoTowerParts; reason: null } | { parts: null; reason: string };

/** Per model, per target name: graphs are fixed once built, so the analysis is too. */
const analyses = new WeakMap<tfl.LayersModel, Map<string, Analysis>>();

/**
 * Cuts a two-tower model into a user model and an item model, or returns null when the model is
 * not one (see {@link twoTowerReason} for why). Two-tower means: the single output is a `Dot`
 * layer (axes 1, not normalized) of two `[batch, dim]` tensors, one depending on the target
 * input only and the other not depending on it at all; optionally followed by one `Add` whose
 * other terms are `[batch, 1]` tensors depending on the target only (a per-item bias). Then for
 * every row `model(x) = ⟨user(x_user), item(target)[0]⟩ (+ item(target)[1])` exactly, so a
 * user's vector can be computed once and dotted with any number of item vectors. Anything else
 * (an activation after the dot, a cosine `Dot`, target attention as in DIN) returns null.
 * The result is cached per model.
 *
 * @param model A functional or Sequential tfjs-layers model.
 * @param options See {@link TwoTowerOptions}.
 * @returns The towers, sharing the model's layers and weights, or null.
 * @throws When `model` is not a tfjs-layers LayersModel.
 * @example
 * ```ts
 * const { model } = sasrec({ numItems: 1000, clickLength: 30 });
 * const parts = splitTwoTower(model);
 * if (parts !== null) {
 *   const user = parts.user.predict(clickRow) as tf.Tensor;   // [1, 32]
 *   const items = parts.item.predict(itemIds) as tf.Tensor;   // [n, 32]
 * }
 * ```
 */
export function splitTwoTower(model: tfl.LayersModel, options: TwoTowerOptions = {}):
    TwoTowerParts | null {
  return analyze(model, options, 'splitTwoTower').parts;
}

/**
 * Why {@link splitTwoTower} returns null for `model`, or null when it splits. For logs and errors.
 *
 * @example
 * ```ts
 * twoTowerReason(dinModel);
 * // "model 'din' is not two-tower: its output comes from layer 'output' (Dense), not a Dot …"
 * ```
 */
export function twoTowerReason(model: tfl.LayersModel, options: TwoTowerOptions = {}): string | null {
  return analyze(model, options, 'twoTowerReason').reason;
}

/**
 * Logits of `targets` (`[n, 1]` or `[n]` item ids, the target input's dtype) for one user, whose
 * user-tower inputs (in `parts.userInputs` order) have one row each, or n rows each (one user
 * per target). The user tower runs on the given rows only: with one row, once for all targets.
 * The caller owns the returned `[n]` tensor.
 *
 * @example
 * ```ts
 * const parts = splitTwoTower(model)!;
 * const logits = scoreTwoTower(parts, [tf.tensor2d([history], [1, 30])], tf.tensor2d(ids, [n, 1]));
 * ```
 */
export function scoreTwoTower(parts: TwoTowerParts, userInputs: tf.Tensor[], targets: tf.Tensor):
    tf.Tensor1D {
  if (!Array.isArray(userInputs) || userInputs.length !== parts.userInputs.length) {
    throw new Error(`'userInputs' passed to 'scoreTwoTower' must be ${parts.userInputs.length} ` +
      `tensor(s), the inputs ${parts.user.inputs.map((t) => `'${t.sourceLayer.name}'`).join(', ')}`);
  }
  const rows = new Set(userInputs.map((t) => t.shape[0]));
  const n = targets.shape[0];
  if (rows.size !== 1 || !(rows.has(1) || rows.has(n))) {
    throw new Error(`'userInputs' passed to 'scoreTwoTower' must all have 1 row or ${n} rows ` +
      `(one per target), got [${userInputs.map((t) => t.shape[0]).join(', ')}]`);
  }
  return tf.tidy(() => {
    return dotItems(userTowerOutputs(parts, userInputs), itemTowerOutputs(parts, targets));
  });
}

/**
 * The item tower's outputs for `targets` (`[n, 1]` or `[n]` ids, the target input's dtype): the vectors `[n, dim]` and the
 * bias `[n]` (null without one). The caller owns both.
 *
 * @example
 * ```ts
 * const { vectors, bias } = itemTowerOutputs(parts, tf.tensor2d([[1], [2]]));
 * ```
 */
export function itemTowerOutputs(parts: TwoTowerParts, targets: tf.Tensor):
    { vectors: tf.Tensor2D; bias: tf.Tensor1D | null } {
  const [vectors, bias] = tf.tidy(() => {
    // Either layout of ids, whichever the target input declares ([batch, 1] or [batch]).
    const rank = parts.item.inputs[0].shape.length;
    const ids = targets.rank === rank ? targets : tf.reshape(targets, rank === 1 ? [-1] : [-1, 1]);
    const out = parts.item.apply(ids, { training: false }) as tf.Tensor | tf.Tensor[];
    const [v, b] = Array.isArray(out) ? out : [out];
    return b === undefined ? [v] : [v, tf.reshape(b, [-1])];
  });
  return { vectors: vectors as tf.Tensor2D, bias: bias === undefined ? null : bias as tf.Tensor1D };
}

/**
 * `vectors · user (+ bias)`: `[n]` logits from item outputs and a user vector `[1, dim]` (one
 * matMul) or `[n, dim]` (row-wise). The caller owns the result.
 *
 * @example
 * ```ts
 * const logits = dotItems(userVector, itemTowerOutputs(parts, ids));
 * ```
 */
export function dotItems(user: tf.Tensor, items: { vectors: tf.Tensor2D; bias: tf.Tensor1D | null }):
    tf.Tensor1D {
  return tf.tidy(() => {
    const dim = items.vectors.shape[1];
    const dots = user.shape[0] === 1 && items.vectors.shape[0] !== 1
      // [n, dim] · [dim, 1]: reshaping the row is free, a transposed matMul is not (on wasm).
      ? tf.reshape(tf.matMul(items.vectors, tf.reshape(user, [dim, 1])), [-1])
      : tf.sum(tf.mul(items.vectors, user), 1);
    return (items.bias === null ? dots : tf.add(dots, items.bias)) as tf.Tensor1D;
  });
}

/**
 * The user tower's vectors `[rows, dim]` for `userInputs` (in `parts.userInputs` order, one row
 * per user), in inference mode. The caller owns the result.
 *
 * @example
 * ```ts
 * const user = userTowerOutputs(parts, [tf.tensor2d([history], [1, 30])]); // [1, dim]
 * ```
 */
export function userTowerOutputs(parts: TwoTowerParts, userInputs: tf.Tensor[]): tf.Tensor2D {
  return tf.tidy(() => {
    const out = parts.user.apply(userInputs.length === 1 ? userInputs[0] : userInputs,
      { training: false }) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(out) ? out[0] : out) as tf.Tensor2D;
  });
}

function analyze(model: tfl.LayersModel, options: TwoTowerOptions, caller: string): Analysis {
  if (options === null || typeof options !== 'object') {
    throw new Error(`'options' passed to '${caller}' must be an object, got ${String(options)}`);
  }
  const target = options.target ?? 'target';
  if (typeof target !== 'string' || target === '') {
    throw new Error(`'target' passed to '${caller}' must be an input name, got ${String(target)}`);
  }
  // A non-model throws here, before the cache (a WeakMap) is touched.
  if (!(model instanceof tfl.LayersModel)) modelNodes(model, caller);
  let byTarget = analyses.get(model);
  if (byTarget === undefined) {
    byTarget = new Map();
    analyses.set(model, byTarget);
  }
  let result = byTarget.get(target);
  if (result === undefined) {
    result = build(model, modelNodes(model, caller), target);
    byTarget.set(target, result);
  }
  return result;
}

function build(model: tfl.LayersModel, nodes: GraphNode[], targetName: string): Analysis {
  const fail = (why: string): Analysis => ({
    parts: null, reason: `model '${model.name}' is not two-tower: ${why}`,
  });
  const ends = modelEnds(model, 'splitTwoTower');
  if (ends.outputs.length !== 1) return fail(`it has ${ends.outputs.length} outputs, not one`);
  const targetInput = ends.inputs.findIndex((t) => t.sourceLayer.name === targetName);
  if (targetInput < 0) {
    return fail(`it has no input named '${targetName}' (its inputs are ` +
      `${ends.inputs.map((t) => `'${t.sourceLayer.name}'`).join(', ')})`);
  }
  const target = ends.inputs[targetInput];
  const producer = new Map<number, GraphNode>();
  for (const node of nodes) for (const t of node.outputs) producer.set(t.id, node);
  const inputIds = new Set(ends.inputs.map((t) => t.id));
  const memo = new Map<number, Set<number>>();
  /** The model inputs (ids) tensor `t` depends on. */
  const deps = (t: Sym): Set<number> => {
    const known = memo.get(t.id);
    if (known !== undefined) return known;
    const out = new Set<number>();
    const seen = new Set<number>();
    const stack = [t];
    while (stack.length > 0) {
      const s = stack.pop() as Sym;
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      const cached = memo.get(s.id);
      if (cached !== undefined) {
        for (const id of cached) out.add(id);
        continue;
      }
      if (inputIds.has(s.id)) {
        out.add(s.id);
        continue;
      }
      const node = producer.get(s.id);
      if (node !== undefined) stack.push(...node.inputs);
    }
    memo.set(t.id, out);
    return out;
  };
  const onlyTarget = (t: Sym) => {
    const d = deps(t);
    return d.size === 1 && d.has(target.id);
  };
  const names = (ids: Set<number>) => ends.inputs.filter((t) => ids.has(t.id))
    .map((t) => `'${t.sourceLayer.name}'`).join(', ');
  const describe = (node: GraphNode | undefined) => node === undefined ? 'an input' :
    `layer '${node.layer.name}' (${node.layer.getClassName()})`;

  const outNode = producer.get(ends.outputs[0].id);
  let dotNode = outNode;
  const biasTerms: Sym[] = [];
  if (outNode !== undefined && outNode.layer.getClassName() === 'Add') {
    const dots = outNode.inputs.filter((t) => producer.get(t.id)?.layer.getClassName() === 'Dot');
    if (dots.length !== 1) {
      return fail(`its output is the Add '${outNode.layer.name}' of ` +
        `${outNode.inputs.map((t) => describe(producer.get(t.id))).join(', ')}; two-tower needs ` +
        `exactly one Dot (of a user and an item vector) plus terms that depend on '${targetName}' only`);
    }
    for (const t of outNode.inputs) {
      if (t === dots[0]) continue;
      if (!onlyTarget(t) || t.shape.length !== 2 || t.shape[1] !== 1) {
        return fail(`Add '${outNode.layer.name}' adds a term from ${describe(producer.get(t.id))} ` +
          `that is not a [batch, 1] function of '${targetName}' alone (it depends on ` +
          `${names(deps(t)) || 'no input'})`);
      }
      biasTerms.push(t);
    }
    dotNode = producer.get(dots[0].id);
  }
  if (dotNode === undefined || dotNode.layer.getClassName() !== 'Dot') {
    return fail(`its output comes from ${describe(dotNode)}, not from a Dot of a user vector ` +
      `and an item vector (optionally plus an Add of per-item terms)`);
  }
  const dotName = dotNode.layer.name;
  const config = dotNode.layer.getConfig();
  if (config.normalize === true) {
    return fail(`Dot '${dotName}' normalizes its inputs (a cosine), which does not factor as ` +
      `one matMul of stored vectors`);
  }
  const [a, b] = dotNode.inputs;
  if (dotNode.inputs.length !== 2 || a.shape.length !== 2 || b.shape.length !== 2) {
    return fail(`Dot '${dotName}' must multiply two [batch, dim] tensors`);
  }
  const axes = Array.isArray(config.axes) ? config.axes as number[] : [config.axes, config.axes] as number[];
  if (axes.some((axis) => axis !== 1 && axis !== -1)) {
    return fail(`Dot '${dotName}' reduces axes [${axes.join(', ')}], not the feature axis 1`);
  }
  const [item, user] = onlyTarget(a) ? [a, b] : [b, a];
  if (!onlyTarget(item)) {
    return fail(`neither side of Dot '${dotName}' depends on '${targetName}' alone (they ` +
      `depend on ${names(deps(a))} and ${names(deps(b))})`);
  }
  const userDeps = deps(user);
  if (userDeps.has(target.id)) {
    return fail(`both sides of Dot '${dotName}' depend on '${targetName}'`);
  }
  const dim = item.shape[1];
  if (dim === null || user.shape[1] !== dim) {
    return fail(`Dot '${dotName}' multiplies vectors of widths ${String(user.shape[1])} and ` +
      `${String(dim)}; both must be known and equal`);
  }

  const userInputs: number[] = [];
  ends.inputs.forEach((t, i) => {
    if (userDeps.has(t.id)) userInputs.push(i);
  });
  const userModel = tfl.model({
    inputs: userInputs.map((i) => ends.inputs[i]), outputs: user, name: `${model.name}_user`,
  });
  let bias: Sym | null = null;
  if (biasTerms.length === 1) bias = biasTerms[0];
  // Several per-item terms: one weightless Add, the same sum the model's Add makes.
  if (biasTerms.length > 1) bias = tfl.layers.add({ name: `${model.name}_itemBiasSum` }).apply(biasTerms) as Sym;
  const itemModel = tfl.model({
    inputs: target, outputs: bias === null ? item : [item, bias], name: `${model.name}_item`,
  });
  return {
    parts: { user: userModel, item: itemModel, userInputs, targetInput, dim, itemBias: bias !== null },
    reason: null,
  };
}
