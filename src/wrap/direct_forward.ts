/**
 * Inference that runs a model's layers directly on tensors: the layer calls `predict` makes, in
 * the same order and with the same arguments, without its per-call bookkeeping (feed dictionaries
 * keyed by name, recipient counting, slicing the input into batches and concatenating the
 * results even when there is one batch). The values are those of `predict`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { type GraphNode, modelEnds, modelNodes } from './graph';

/**
 * A model's forward pass on concrete tensors: its inputs in `model.inputs` order → its outputs
 * in `model.outputs` order (intermediate tensors freed as soon as no later layer reads them).
 *
 * @example
 * ```ts
 * const forward = directForward(generator);
 * const [params] = forward([ids]);
 * ```
 */
export type DirectForward = (inputs: readonly tf.Tensor[]) => tf.Tensor[];

interface Step {
  node: GraphNode;
  inputs: number[];
  outputs: number[];
  /** Tensor ids whose last reader is this step (freed after it runs). */
  release: number[];
}

/**
 * Compiles `model`'s layer graph once into a {@link DirectForward}. Each layer is called with
 * `apply(inputs, kwargs)` exactly as tfjs-layers' `predict` calls it (an array of inputs, no
 * training flag, the first input's mask when a masking layer produced one), so the outputs are
 * the same values.
 *
 * @example
 * ```ts
 * const forward = directForward(splitDuet(duetModel).generator);
 * const [params] = forward([tf.tensor2d([[3, 9, 27, 0]])]);
 * ```
 */
export function directForward(model: tfl.LayersModel): DirectForward {
  const caller = 'directForward';
  const nodes = modelNodes(model, caller);
  const { inputs, outputs } = modelEnds(model, caller);
  const inputIds = inputs.map((t) => t.id);
  const outputIds = outputs.map((t) => t.id);
  const kept = new Set([...inputIds, ...outputIds]);
  const lastReader = new Map<number, number>();
  nodes.forEach((node, i) => node.inputs.forEach((t) => lastReader.set(t.id, i)));
  const steps: Step[] = nodes.map((node, i) => ({
    node,
    inputs: node.inputs.map((t) => t.id),
    outputs: node.outputs.map((t) => t.id),
    release: [...new Set(node.inputs.map((t) => t.id))]
      .filter((id) => lastReader.get(id) === i && !kept.has(id)),
  }));
  const needsMasks = nodes.some((n) => n.layer.supportsMasking);

  return (values: readonly tf.Tensor[]) => {
    if (values.length !== inputIds.length) {
      throw new Error(`'inputs' passed to '${caller}' of model '${model.name}' must be ` +
        `${inputIds.length} tensor(s), got ${values.length}`);
    }
    return tf.tidy(() => {
      const known = new Map<number, tf.Tensor>();
      const masks = new Map<number, tf.Tensor>();
      inputIds.forEach((id, i) => known.set(id, values[i]));
      for (const step of steps) {
        const args = step.inputs.map((id) => known.get(id) as tf.Tensor);
        const kwargs: Record<string, unknown> = {};
        // As tfjs-layers' executor: when any input carries a mask, the layer gets the first's.
        if (needsMasks && step.inputs.some((id) => masks.has(id))) kwargs.mask = masks.get(step.inputs[0]);
        const result = step.node.layer.apply(args, kwargs) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(result) ? result : [result];
        step.outputs.forEach((id, i) => known.set(id, list[i]));
        if (needsMasks && step.node.layer.supportsMasking) {
          const inputMasks = step.inputs.map((id) => masks.get(id) ?? null);
          const mask = step.node.layer.computeMask(args, inputMasks as tf.Tensor[]);
          const maskList = Array.isArray(mask) ? mask : [mask];
          if (maskList[0] != null) step.outputs.forEach((id) => masks.set(id, maskList[0] as tf.Tensor));
        }
        for (const id of step.release) {
          const t = known.get(id);
          if (t !== undefined && !values.includes(t)) t.dispose();
          known.delete(id);
        }
      }
      return outputIds.map((id) => known.get(id) as tf.Tensor);
    });
  };
}

const DIRECT = Symbol('duet-tf direct predict');

type Predict = tfl.LayersModel['predict'];

/** Whether `x` is what the direct path takes as it is: one rank ≥ 2 tensor per input, shapes fitting. */
function plainInputs(model: tfl.LayersModel, x: tf.Tensor | tf.Tensor[]): tf.Tensor[] | null {
  const list = Array.isArray(x) ? x : [x];
  if (list.length !== model.inputs.length) return null;
  const rows = list[0]?.shape[0];
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (!(t instanceof tf.Tensor) || t.rank < 2 || t.shape[0] !== rows) return null;
    const expected = model.inputs[i].shape;
    if (expected.length !== t.rank || expected.some((d, k) => k > 0 && d !== null && d !== t.shape[k])) {
      return null;
    }
  }
  return list;
}

/**
 * Makes `model.predict` run through {@link directForward}: the same values, in one pass per
 * `batchSize` rows (default 32, as `predict`'s). Inputs the direct path does not take as they are
 * (rank 1, a wrong count or shape, a bad `batchSize`) go to tfjs-layers' own `predict`, which
 * converts or reports them as before. Returns `model` (idempotent).
 *
 * @example
 * ```ts
 * const generator = withDirectPredict(await tf.loadLayersModel('file://generator/model.json'));
 * const params = generator.predict(ids, { batchSize: 256 }) as tf.Tensor;
 * ```
 */
export function withDirectPredict<M extends tfl.LayersModel>(model: M): M {
  const marked = model as M & { [DIRECT]?: true };
  if (marked[DIRECT] === true) return model;
  const original: Predict = model.predict.bind(model);
  let forward: DirectForward | null = null;
  const predict: Predict = (x, args = {}) => {
    const batchSize = args.batchSize ?? 32;
    const list = plainInputs(model, x);
    if (list === null || !Number.isInteger(batchSize) || batchSize <= 0) return original(x, args);
    forward ??= directForward(model);
    const run = forward;
    const rows = list[0].shape[0];
    const outputs = tf.tidy(() => {
      if (rows <= batchSize) return run(list);
      const parts: tf.Tensor[][] = [];
      for (let start = 0; start < rows; start += batchSize) {
        const size = Math.min(batchSize, rows - start);
        parts.push(run(list.map((t) => tf.slice(t, start, size))));
      }
      return parts[0].map((_, o) => tf.concat(parts.map((p) => p[o]), 0));
    });
    return outputs.length === 1 ? outputs[0] : outputs;
  };
  Object.defineProperty(model, 'predict', { value: predict, configurable: true, writable: true });
  marked[DIRECT] = true;
  return model;
}
