/**
 * The messages between the training coordinator (main thread) and its worker threads. Control
 * only: gradients travel through shared memory ({@link GradientExchange}), never in messages.
 */
import type { ObjectiveShard, ObjectiveSpec } from '../objective';
import type { OptimizerState } from '../checkpoint/optimizer_state';
import type { StepperOptions } from '../train_step';
import type { ExchangeLayout } from './gradient_exchange';

/**
 * A weight's values as posted to a worker.
 *
 * @example
 * ```ts
 * const w: WeightValues = { values: new Float32Array(4), shape: [2, 2], dtype: 'float32' };
 * ```
 */
export interface WeightValues {
  /** The values, row-major. */
  values: Float32Array | Int32Array | Uint8Array;
  /** The shape. */
  shape: number[];
  /** The dtype. */
  dtype: 'float32' | 'int32' | 'bool';
}

/**
 * Everything a worker needs to build its replica, posted once.
 *
 * @example
 * ```ts
 * worker.postMessage(init satisfies InitMessage);
 * ```
 */
export interface InitMessage {
  type: 'init';
  /** The backend to train on (the main thread's). */
  backend: string;
  /** `model.toJSON(null, false)`: the architecture. */
  modelTopology: object;
  /** `model.getWeights()`, in order. */
  weights: WeightValues[];
  /** Shapes of `model.trainableWeights`, in order, checked against the rebuilt model. */
  trainableShapes: number[][];
  /** The objective, rebuilt by name. */
  objective: ObjectiveSpec;
  /** The training data (structured-cloned). */
  data: unknown;
  /** Optimiser settings. */
  stepper: StepperOptions;
  /** The optimisers' state to start from (the main thread's: fresh, or restored from a checkpoint). */
  optimizer: OptimizerState;
  /** This worker's shard. */
  shard: ObjectiveShard;
  /** The shared gradient memory. */
  exchange: ExchangeLayout;
  /** Examples per global batch. */
  batchSize: number;
  /** Seed of the shuffles. */
  seed: number;
}

/**
 * Runs one epoch (from 0) whose first step has global number `firstStep`.
 *
 * @example
 * ```ts
 * worker.postMessage({ type: 'epoch', epoch: 0, firstStep: 0 } satisfies EpochMessage);
 * ```
 */
export interface EpochMessage {
  type: 'epoch';
  epoch: number;
  firstStep: number;
}

/**
 * What a worker reports: ready after init, or the error that stopped it.
 *
 * @example
 * ```ts
 * parentPort.postMessage({ type: 'ready' } satisfies WorkerReport);
 * ```
 */
export type WorkerReport =
  | { type: 'ready' }
  | { type: 'error'; message: string; stack?: string };
