/**
 * The state of a training run's Adam optimisers as plain arrays: what a checkpoint stores so that
 * resumed training takes exactly the steps an uninterrupted run would. Both of duet-tf's Adams
 * (the fused kernel and `tf.train.adam`) are read and written here; moments are keyed by the
 * position of their variable in `model.trainableWeights`, since variable names differ between
 * processes.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * One Adam's state: the bias-correction products and each variable's moments.
 *
 * @example
 * ```ts
 * const fresh: AdamState = { acc1: Math.fround(0.9), acc2: Math.fround(0.999), steps: 0, moments: [] };
 * ```
 */
export interface AdamState {
  /** `beta1^(t+1)` as the optimiser keeps it (a float32 product, not recomputed). */
  acc1: number;
  /** `beta2^(t+1)` likewise. */
  acc2: number;
  /** Steps taken (t). */
  steps: number;
  /** First and second moments, by index of the variable in `model.trainableWeights`. */
  moments: Array<{ index: number; m: Float32Array; v: Float32Array }>;
}

/**
 * The state of a training run's optimisers: the main Adam and, with a generator learning rate
 * of its own, the generators' Adam.
 *
 * @example
 * ```ts
 * const state: OptimizerState = stepper.exportState();
 * ```
 */
export interface OptimizerState {
  /** The Adam of every weight (or of every non-generator weight when `generator` is set). */
  main: AdamState;
  /** The generators' own Adam, or null when one Adam trains everything. */
  generator: AdamState | null;
}

/** The fields of `tf.train.adam` (tfjs 4.x `AdamOptimizer`) a checkpoint needs; private in tfjs. */
interface TfAdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  iterations_?: number;
}

function internals(optimizer: tf.Optimizer): TfAdamInternals {
  const o = optimizer as unknown as TfAdamInternals;
  if (!(o.accBeta1 instanceof tf.Variable) || !(o.accBeta2 instanceof tf.Variable) ||
      !Array.isArray(o.accumulatedFirstMoment) || !Array.isArray(o.accumulatedSecondMoment)) {
    throw new Error('cannot read the state of tf.train.adam in this version of @tensorflow/tfjs-core ' +
      '(checkpoints need tfjs 4.x)');
  }
  return o;
}

/**
 * The state of a `tf.train.adam` optimiser over `variables` (the run's trainable variables, in
 * order), copied.
 *
 * @example
 * ```ts
 * const state = tfAdamState(tf.train.adam(1e-3), model.trainableWeights.map((w) => w.read() as tf.Variable));
 * ```
 */
export function tfAdamState(optimizer: tf.Optimizer, variables: readonly tf.Variable[]): AdamState {
  const o = internals(optimizer);
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const moments: AdamState['moments'] = [];
  o.accumulatedFirstMoment.forEach((first, i) => {
    const second = o.accumulatedSecondMoment[i];
    if (first === undefined || second === undefined) return;
    const name = first.originalName.replace(/\/m$/, '');
    const at = index.get(name);
    if (at === undefined) throw new Error(`tf.train.adam holds moments of '${name}', not a trainable variable of the run`);
    moments.push({ index: at, m: Float32Array.from(first.variable.dataSync() as Float32Array),
      v: Float32Array.from(second.variable.dataSync() as Float32Array) });
  });
  return { acc1: o.accBeta1.dataSync()[0], acc2: o.accBeta2.dataSync()[0], steps: o.iterations_ ?? 0, moments };
}

/**
 * Puts `state` into a fresh `tf.train.adam` over `group` (the variables it updates, in the order
 * their gradients reach it; `variables` gives the indices).
 *
 * @example
 * ```ts
 * setTfAdamState(optimizer, state, variables, variables);
 * ```
 */
export function setTfAdamState(optimizer: tf.Optimizer, state: AdamState, variables: readonly tf.Variable[],
    group: readonly tf.Variable[]): void {
  const o = internals(optimizer);
  const byIndex = new Map(state.moments.map((x) => [x.index, x]));
  const first: TfAdamInternals['accumulatedFirstMoment'] = [];
  const second: TfAdamInternals['accumulatedSecondMoment'] = [];
  const at = new Map(variables.map((v, i) => [v, i]));
  group.forEach((v, i) => {
    const saved = byIndex.get(at.get(v) as number);
    if (saved === undefined) return;
    tf.tidy(() => {
      first[i] = { originalName: `${v.name}/m`, variable: tf.variable(tf.tensor(saved.m, v.shape, 'float32'), false) };
      second[i] = { originalName: `${v.name}/v`, variable: tf.variable(tf.tensor(saved.v, v.shape, 'float32'), false) };
    });
  });
  tf.dispose([...o.accumulatedFirstMoment, ...o.accumulatedSecondMoment].flatMap((x) => (x ? [x.variable] : [])));
  o.accumulatedFirstMoment = first;
  o.accumulatedSecondMoment = second;
  tf.tidy(() => {
    o.accBeta1.assign(tf.scalar(state.acc1));
    o.accBeta2.assign(tf.scalar(state.acc2));
  });
  o.iterations_ = state.steps;
}

/**
 * Checks that `state` fits `variables` (indices in range, moment sizes equal to the variables'),
 * naming `what` (e.g. the checkpoint's folder) when it does not.
 *
 * @example
 * ```ts
 * checkAdamState(state.main, variables, "checkpoint 'ckpt'");
 * ```
 */
export function checkAdamState(state: AdamState, variables: readonly tf.Variable[], what: string): void {
  for (const { index, m, v } of state.moments) {
    const variable = variables[index];
    if (variable === undefined || m.length !== variable.size || v.length !== variable.size) {
      throw new Error(`${what}: its optimiser state does not fit the model (trainable weight ${index}` +
        `${variable === undefined ? ' does not exist' : ` has ${variable.size} values, the state ${m.length}`})`);
    }
  }
}
