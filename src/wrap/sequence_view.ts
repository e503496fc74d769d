/**
 * The sequence view of a causal two-tower model: the user vector at **every position** of a
 * click sequence in one pass, each equal to the user vector the model computes for that prefix
 * alone. What sequence-level training needs (a target at every position) from the very model
 * that is saved, split and served, with no second copy of its weights.
 *
 * The view walks the user side of `splitTwoTower` once: layers before the pooling run on the
 * whole `[batch, time, …]` sequence (they must be causal: a TransformerBlock needs `causal`);
 * the pooling (`SequencePooling` `'last'`, or a `Gru`, which pools by construction) keeps every
 * position instead, and the chosen positions are gathered into rows; the layers after it run on
 * those rows, as they ran on one row per user. A `ParameterGenerator` gives every prefix its own
 * conditioning vector, and each `DynamicDense` it feeds applies its row's generated kernel
 * factorised (`ParameterGenerator.applyGenerated`), so no kernel is formed per position.
 * Browser-safe.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { DynamicDense } from '../layers/dynamic_dense';
import { Gru } from '../layers/gru';
import { ParameterGenerator } from '../layers/parameter_generator';
import { SequencePooling } from '../layers/sequence_pooling';
import { TransformerBlock } from '../layers/transformer_block';
import { type GraphNode, modelNodes } from './graph';
import { splitTwoTower, twoTowerReason, type TwoTowerParts } from './two_tower';

type Sym = tfl.SymbolicTensor;

/** Layers that act on each position of a sequence without looking ahead. */
const CAUSAL_LAYERS = new Set(['Embedding', 'Dense', 'Dropout', 'Activation', 'LayerNormalization',
  'Add', 'Multiply', 'DuetSequenceMask', 'DuetPositionEmbedding', 'DuetTransformerBlock']);
/** Layers that act on each row alone (after the pooling, a row is a position). */
const ROW_LAYERS = new Set(['Dense', 'Dropout', 'Activation', 'LayerNormalization', 'Add', 'Multiply']);

/** What one node of the user side does in the view. */
type Step =
  | { op: 'apply'; node: GraphNode }
  | { op: 'pool'; node: GraphNode }
  | { op: 'states'; node: GraphNode; layer: Gru }
  | { op: 'conditions'; node: GraphNode; layer: ParameterGenerator }
  | { op: 'dynamic'; node: GraphNode; layer: DynamicDense; generator: ParameterGenerator; slice: number };

/** Which form a tensor of the user side takes in the view. */
type Kind = 'sequence' | 'rows' | 'conditions';

/**
 * The per-position form of a model (see the file comment); from {@link sequenceView}.
 *
 * @example
 * ```ts
 * const view = sequenceView(model);
 * const users = view.userVectors(click, positions, true); // [positions, dim]
 * const { vectors } = view.itemVectors(tf.range(0, numItems + 1, 1, 'int32'), true);
 * ```
 */
export interface SequenceView {
  /** The two-tower parts the view is built on. */
  readonly parts: TwoTowerParts;
  /** Length of the model's `click` input: the longest history it reads. */
  readonly clickLength: number;
  /** Width of the user and item vectors. */
  readonly dim: number;
  /**
   * User vectors at chosen positions: `click [batch, time]` item ids, right-padded (time ≤
   * clickLength), and `positions` (int32 `b · time + t`) → `[positions, dim]`. Row i is the user
   * vector the model computes for the prefix `click[b, 0..t]` alone. `training` turns dropout
   * (and the generator's condition dropout) on.
   */
  userVectors(click: tf.Tensor2D, positions: tf.Tensor1D, training: boolean): tf.Tensor2D;
  /** The item tower for `ids [n]`: vectors `[n, dim]` and the per-item bias `[n]` (null without one). */
  itemVectors(ids: tf.Tensor1D, training: boolean): { vectors: tf.Tensor2D; bias: tf.Tensor1D | null };
}

type Analysis = { view: SequenceView; reason: null } | { view: null; reason: string };

const analyses = new WeakMap<tfl.LayersModel, Analysis>();

/**
 * The sequence view of `model`, or an error saying why it has none (see
 * {@link sequenceViewReason}). Cached per model.
 *
 * @param model A two-tower model whose user side reads one `click` input, pools it causally and
 *   then acts row by row: the reference SASRec (causal) and GRU4Rec, base or DUET.
 * @returns The view; it shares the model's layers and weights.
 * @throws When the model has no sequence view.
 * @example
 * ```ts
 * const { model } = sasrec({ numItems: 100, clickLength: 20, variant: 'duet' });
 * const view = sequenceView(model);
 * const click = tf.tensor2d([[5, 7, 9, 0]], [1, 4], 'int32');
 * const states = view.userVectors(click, tf.tensor1d([0, 1, 2], 'int32'), false); // [3, 32]
 * ```
 */
export function sequenceView(model: tfl.LayersModel): SequenceView {
  const analysis = analyze(model);
  if (analysis.view === null) throw new Error(`'sequenceView': ${analysis.reason}`);
  return analysis.view;
}

/**
 * Why `model` has no sequence view, or null when it has one.
 *
 * @example
 * ```ts
 * sequenceViewReason(sasrec({ numItems: 9, causal: false }).model);
 * // "… TransformerBlock 'transformer1' is not causal: position t would see later items"
 * ```
 */
export function sequenceViewReason(model: tfl.LayersModel): string | null {
  return analyze(model).reason;
}

function analyze(model: tfl.LayersModel): Analysis {
  let analysis = analyses.get(model);
  if (analysis === undefined) {
    analysis = build(model);
    analyses.set(model, analysis);
  }
  return analysis;
}

function build(model: tfl.LayersModel): Analysis {
  const fail = (why: string): Analysis => ({
    view: null, reason: `model '${model.name}' has no sequence view: ${why}`,
  });
  const parts = splitTwoTower(model);
  if (parts === null) return fail(twoTowerReason(model) ?? 'it is not two-tower');
  const inputs = parts.user.inputs;
  if (inputs.length !== 1 || inputs[0].sourceLayer.name !== 'click' || inputs[0].shape.length !== 2 ||
      inputs[0].shape[1] === null) {
    return fail(`its user vector must come from one 'click' input [batch, length]; it reads ` +
      `${inputs.map((t) => `'${t.sourceLayer.name}'`).join(', ')}`);
  }
  const clickLength = inputs[0].shape[1] as number;
  const kinds = new Map<number, Kind>([[inputs[0].id, 'sequence']]);
  const producers = new Map<number, GraphNode>();
  const steps: Step[] = [];
  for (const node of modelNodes(parts.user, 'sequenceView')) {
    const layer = node.layer;
    const name = `${layer.getClassName()} '${layer.name}'`;
    const given = node.inputs.map((t) => kinds.get(t.id));
    if (given.some((k) => k === undefined)) return fail(`${name} reads a tensor the view does not know`);
    if (node.outputs.length !== 1) return fail(`${name} has ${node.outputs.length} outputs`);
    const all = (k: Kind) => given.every((g) => g === k);
    let out: Kind;
    if (layer instanceof SequencePooling || layer instanceof Gru) {
      if (!all('sequence')) return fail(`${name} pools a second time`);
      if (layer instanceof SequencePooling && layer.mode !== 'last') {
        return fail(`${name} pools by '${layer.mode}'; only the last valid state is a prefix's state`);
      }
      steps.push(layer instanceof Gru ? { op: 'states', node, layer } : { op: 'pool', node });
      out = 'rows';
    } else if (layer instanceof ParameterGenerator) {
      if (!all('sequence')) return fail(`${name} must read the click sequence (or its embeddings)`);
      steps.push({ op: 'conditions', node, layer });
      out = 'conditions';
    } else if (layer instanceof DynamicDense) {
      const paramsNode = producers.get(node.inputs[1]?.id ?? -1);
      if (given[0] !== 'rows' || given[1] !== 'conditions' || paramsNode === undefined ||
          !(paramsNode.layer instanceof ParameterGenerator)) {
        return fail(`${name} must act on the pooled state with parameters straight from a ParameterGenerator`);
      }
      const generator = paramsNode.layer;
      const offset = layer.paramOffset ?? 0;
      const slice = generator.slices.findIndex((s) => s.offset === offset);
      if (slice < 0) return fail(`${name} reads parameters at offset ${offset}, where no generated layer starts`);
      if (generator.options.stableWeights) {
        return fail(`its generator uses the Stable Weight Adapter, which does not apply factorised ` +
          `(set generator.stableWeights: false for sequence-level training)`);
      }
      steps.push({ op: 'dynamic', node, layer, generator, slice });
      out = 'rows';
    } else if (given.includes('conditions')) {
      return fail(`${name} reads generated parameters; only DynamicDense layers may`);
    } else if (all('sequence')) {
      if (!CAUSAL_LAYERS.has(layer.getClassName())) {
        return fail(`${name} acts on the sequence and is not known to be causal`);
      }
      if (layer instanceof TransformerBlock && !layer.causal) {
        return fail(`${name} is not causal: position t would see later items (build it with causal: true)`);
      }
      steps.push({ op: 'apply', node });
      out = 'sequence';
    } else if (all('rows')) {
      if (!ROW_LAYERS.has(layer.getClassName())) return fail(`${name} is not known to act row by row`);
      steps.push({ op: 'apply', node });
      out = 'rows';
    } else {
      return fail(`${name} mixes the sequence with pooled states`);
    }
    for (const t of node.outputs) {
      kinds.set(t.id, out);
      producers.set(t.id, node);
    }
  }
  const output = parts.user.outputs[0];
  if (kinds.get(output.id) !== 'rows') return fail('its user side never pools the sequence');
  return { view: makeView(parts, clickLength, steps, output), reason: null };
}

function makeView(parts: TwoTowerParts, clickLength: number, steps: Step[], output: Sym): SequenceView {
  const clickId = parts.user.inputs[0].id;
  const clickDtype = parts.user.inputs[0].dtype === 'int32' ? 'int32' : 'float32';
  return {
    parts,
    clickLength,
    dim: parts.dim,
    userVectors(click: tf.Tensor2D, positions: tf.Tensor1D, training: boolean): tf.Tensor2D {
      if (click.rank !== 2 || click.shape[1] > clickLength || click.shape[1] < 1) {
        throw new Error(`'click' passed to 'SequenceView.userVectors' must have shape [batch, time] ` +
          `with 1 ≤ time ≤ ${clickLength}, got [${click.shape.join(', ')}]`);
      }
      if (positions.rank !== 1 || positions.dtype !== 'int32') {
        throw new Error(`'positions' passed to 'SequenceView.userVectors' must be an int32 [n] tensor ` +
          `of b · time + t indices`);
      }
      return tf.tidy(() => {
        const [batch, time] = click.shape;
        const values = new Map<number, tf.Tensor>([[clickId, clickDtype === click.dtype ? click : tf.cast(click, clickDtype)]]);
        const rowsOf = (sequence: tf.Tensor) =>
          tf.gather(tf.reshape(sequence, [batch * time, ...sequence.shape.slice(2)]), positions);
        const args = (node: GraphNode) => node.inputs.map((t) => values.get(t.id) as tf.Tensor);
        for (const step of steps) {
          const xs = args(step.node);
          let out: tf.Tensor;
          if (step.op === 'pool') {
            out = rowsOf(xs[0]);
          } else if (step.op === 'states') {
            out = rowsOf(step.layer.states(xs));
          } else if (step.op === 'conditions') {
            out = rowsOf(step.layer.encodePrefixes(xs.length === 1 ? xs[0] : xs, training));
          } else if (step.op === 'dynamic') {
            const x = xs[0] as tf.Tensor2D;
            out = step.layer.callGenerated(x, step.generator.applyGenerated(step.slice, x, xs[1] as tf.Tensor2D));
          } else {
            const applied = step.node.layer.apply(xs.length === 1 ? xs[0] : xs,
              { ...step.node.callArgs, training }) as tf.Tensor | tf.Tensor[];
            out = Array.isArray(applied) ? applied[0] : applied;
          }
          values.set(step.node.outputs[0].id, out);
        }
        return values.get(output.id) as tf.Tensor2D;
      });
    },
    itemVectors(ids: tf.Tensor1D, training: boolean) {
      const [vectors, bias] = tf.tidy(() => {
        const rank = parts.item.inputs[0].shape.length;
        const dtype = parts.item.inputs[0].dtype === 'int32' ? 'int32' : 'float32';
        const typed = ids.dtype === dtype ? ids : tf.cast(ids, dtype);
        const out = parts.item.apply(rank === 1 ? typed : tf.reshape(typed, [-1, 1]), { training }) as
          tf.Tensor | tf.Tensor[];
        const [v, b] = Array.isArray(out) ? out : [out];
        return b === undefined ? [v] : [v, tf.reshape(b, [-1])];
      });
      return { vectors: vectors as tf.Tensor2D, bias: bias === undefined ? null : bias as tf.Tensor1D };
    },
  };
}
