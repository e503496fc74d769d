/**
 * One optimisation step (BCE on logits, optional global-norm clipping, Adam), shared by `train`
 * and the fine-tune baseline.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { forwardLogits } from '../eval/model_inputs';
import { ParameterGenerator } from '../layers/parameter_generator';
import type { DuetBatch } from './batches';
import {
  type AdamState, checkAdamState, type OptimizerState, setTfAdamState, tfAdamState,
} from './checkpoint/optimizer_state';
import { FusedAdam, fusedAdamAvailable } from './optim/fused_adam';

/**
 * Mean binary cross-entropy of logits, in the stable form
 * `max(x, 0) − x·y + log(1 + exp(−|x|))` (no overflow for large |x|).
 *
 * @param labels Labels in {0, 1}, any shape with as many elements as `logits`.
 * @param logits Logits.
 * @returns The mean loss, a scalar.
 * @example
 * ```ts
 * bceWithLogits(tf.tensor1d([1, 0]), tf.tensor1d([0, 0])).dataSync()[0]; // ln 2 ≈ 0.6931
 * ```
 */
export function bceWithLogits(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const x = tf.reshape(logits, [-1]);
    const y = tf.reshape(labels, [-1]);
    const perRow = tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return tf.mean(perRow) as tf.Scalar;
  });
}

/**
 * Scales all gradients by one factor so that their global norm √(Σ‖g‖²) is at most `clipNorm`
 * (gradients already within the bound are unchanged): the direction of the whole update is kept.
 * Returns new tensors; the inputs are left to the caller.
 *
 * @param grads Gradients by variable name.
 * @param clipNorm The largest global norm, > 0.
 * @returns The clipped gradients by variable name.
 * @example
 * ```ts
 * const clipped = clipByGlobalNorm({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, 1);
 * // global norm 5 → scaled by 1/5: a = [0.6], b = [0.8]
 * ```
 */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, clipNorm: number): tf.NamedTensorMap {
  checkClipNorm(clipNorm, 'clipByGlobalNorm');
  const names = Object.keys(grads);
  return tf.tidy(() => {
    if (names.length === 0) return {};
    const scale = globalNormScale(grads, clipNorm);
    const out: tf.NamedTensorMap = {};
    for (const n of names) out[n] = tf.mul(grads[n], scale);
    return out;
  });
}

function checkClipNorm(clipNorm: number, caller: string): void {
  if (!(typeof clipNorm === 'number' && clipNorm > 0 && Number.isFinite(clipNorm))) {
    throw new Error(`'clipNorm' passed to '${caller}' must be a positive finite number, got ${String(clipNorm)}`);
  }
}

/** `clipNorm / max(‖grads‖, clipNorm)`: the factor {@link clipByGlobalNorm} multiplies by (grads non-empty). */
function globalNormScale(grads: tf.NamedTensorMap, clipNorm: number): tf.Scalar {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(tf.addN(squares));
    return tf.div(tf.scalar(clipNorm), tf.maximum(norm, tf.scalar(clipNorm))) as tf.Scalar;
  });
}

/** An Adam: `tf.train.adam`, or the fused one (which takes the clipping factor itself). */
type Adam = { fused: true; optimizer: FusedAdam } | { fused: false; optimizer: tf.Optimizer };

function createAdam(learningRate: number): Adam {
  return fusedAdamAvailable() ? { fused: true, optimizer: new FusedAdam(learningRate) }
    : { fused: false, optimizer: tf.train.adam(learningRate) };
}

/** Settings of a {@link Stepper}. */
export interface StepperOptions {
  /** Adam learning rate. */
  learningRate: number;
  /** Adam learning rate of `ParameterGenerator` weights, or undefined for `learningRate`. */
  generatorLearningRate?: number;
  /** Global-norm clipping bound, or undefined for none. */
  clipNorm?: number;
}

/**
 * Trains `model.trainableWeights` with its own fresh Adam state: one {@link Stepper.step} per
 * batch. Dispose it to free the optimiser's moments. Internal.
 *
 * @example
 * ```ts
 * const stepper = new Stepper(model, { learningRate: 1e-3, clipNorm: 5 }, 'train');
 * for (const batch of datasetBatches(model, train)) stepper.step(batch).dispose();
 * stepper.dispose();
 * ```
 */
export class Stepper {
  private readonly variables: tf.Variable[];
  private readonly adam: Adam;
  /** The generators' own Adam and the names of the variables it updates; null when one Adam does all. */
  private readonly generator: { adam: Adam; names: Set<string> } | null = null;
  /** Steps applied (each `apply`). */
  private steps = 0;

  constructor(private readonly model: tfl.LayersModel, private readonly options: StepperOptions, caller: string) {
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    if (this.variables.length === 0) {
      throw new Error(`'model' passed to '${caller}' has no trainable weights`);
    }
    if (options.clipNorm !== undefined) checkClipNorm(options.clipNorm, caller);
    this.adam = createAdam(options.learningRate);
    const rate = options.generatorLearningRate;
    if (rate !== undefined) {
      const names = new Set(model.layers.filter((l) => l instanceof ParameterGenerator)
        .flatMap((l) => l.trainableWeights.map((w) => (w.read() as tf.Variable).name)));
      if (names.size === 0) {
        throw new Error(`'generatorLearningRate' passed to '${caller}' needs a model with a ` +
          `ParameterGenerator; this one has none`);
      }
      if (rate !== options.learningRate) this.generator = { adam: createAdam(rate), names };
    }
  }

  /** The trainable variables, in `model.trainableWeights` order. */
  get trainable(): readonly tf.Variable[] {
    return this.variables;
  }

  /** The value of `f` and its gradients with respect to every trainable variable (caller disposes both). */
  gradients(f: () => tf.Scalar): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    return tf.variableGrads(f, this.variables);
  }

  /**
   * Clips `grads` (with `clipNorm`) and applies them with Adam (the generators' own, if any);
   * disposes them. With the fused Adam the clipping factor is applied inside its kernel.
   */
  apply(grads: tf.NamedTensorMap): void {
    this.steps++;
    const clip = this.options.clipNorm;
    const groups = this.split(grads);
    if (this.adam.fused) {
      const scale = clip === undefined || Object.keys(grads).length === 0 ? undefined : globalNormScale(grads, clip);
      try {
        for (const [adam, group] of groups) (adam.optimizer as FusedAdam).applyGradients(group, scale);
      } finally {
        scale?.dispose();
        tf.dispose(Object.values(grads));
      }
      return;
    }
    let applied = grads;
    if (clip !== undefined) {
      applied = clipByGlobalNorm(grads, clip);
      tf.dispose(Object.values(grads));
    }
    for (const [adam, group] of this.split(applied)) (adam.optimizer as tf.Optimizer).applyGradients(group);
    tf.dispose(Object.values(applied));
  }

  /** `grads` split between the Adams: the generators' own first (if any), then the rest. */
  private split(grads: tf.NamedTensorMap): Array<[Adam, tf.NamedTensorMap]> {
    if (this.generator === null) return [[this.adam, grads]];
    const own: tf.NamedTensorMap = {};
    const rest: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) (this.generator.names.has(name) ? own : rest)[name] = g;
    return [[this.adam, rest], [this.generator.adam, own]];
  }

  /** One Adam step on the batch's mean BCE; returns the loss before the step (caller disposes). */
  step(batch: DuetBatch): tf.Scalar {
    const { value, grads } = this.gradients(
      () => bceWithLogits(batch.labels, forwardLogits(this.model, batch.inputs, true)));
    this.apply(grads);
    return value;
  }

  /** One Adam step on any scalar objective of the model's weights; returns its value before the step (caller disposes). */
  minimize(objective: () => tf.Scalar): tf.Scalar {
    const { value, grads } = this.gradients(objective);
    this.apply(grads);
    return value;
  }

  /**
   * A copy of the optimisers' state (moments by trainable-weight index, bias-correction products,
   * steps), for a checkpoint; {@link Stepper.importState} puts it back.
   */
  exportState(): OptimizerState {
    const of = (adam: Adam): AdamState => {
      if (!adam.fused) return { ...tfAdamState(adam.optimizer, this.variables), steps: this.steps };
      const { acc1, acc2, moments } = adam.optimizer.exportState();
      const index = new Map(this.variables.map((v, i) => [v.name, i]));
      return {
        acc1, acc2, steps: this.steps,
        moments: [...moments].map(([name, { m, v }]) => {
          const at = index.get(name);
          if (at === undefined) throw new Error(`the optimiser holds moments of '${name}', not a trainable weight`);
          return { index: at, m, v };
        }).sort((a, b) => a.index - b.index),
      };
    };
    return { main: of(this.adam), generator: this.generator === null ? null : of(this.generator.adam) };
  }

  /**
   * Replaces the optimisers' state with `state` (from {@link Stepper.exportState}, possibly of
   * another process with the same architecture); `what` names its source in errors.
   */
  importState(state: OptimizerState, what: string): void {
    if ((state.generator === null) !== (this.generator === null)) {
      throw new Error(`${what}: its optimiser state has ${state.generator === null ? 'one Adam' : 'a generator Adam'}, ` +
        `this run ${this.generator === null ? 'one Adam' : 'a generator Adam'} (generatorLearningRate differs)`);
    }
    checkAdamState(state.main, this.variables, what);
    if (state.generator !== null) checkAdamState(state.generator, this.variables, what);
    const put = (adam: Adam, saved: AdamState, inGroup: (v: tf.Variable) => boolean) => {
      const group = this.variables.filter(inGroup);
      if (adam.fused) {
        adam.optimizer.importState({
          acc1: saved.acc1, acc2: saved.acc2,
          moments: new Map(saved.moments.map(({ index, m, v }) => [this.variables[index].name, { m, v }])),
        });
      } else {
        setTfAdamState(adam.optimizer, saved, this.variables, group);
      }
    };
    const generator = this.generator;
    put(this.adam, state.main, (v) => generator === null || !generator.names.has(v.name));
    if (generator !== null) put(generator.adam, state.generator as AdamState, (v) => generator.names.has(v.name));
    this.steps = state.main.steps;
  }

  dispose(): void {
    this.adam.optimizer.dispose();
    this.generator?.adam.optimizer.dispose();
  }
}
