/**
 * Starting the epoch runner for a training run: one thread, or data-parallel worker threads.
 * Shared by every training loop (`train` on duet-seq-v1 rows, the sequence-level loops), so each
 * trains on any number of threads the same way.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import { LocalRunner, type EpochRunner } from './epoch_runner';
import type { TrainingObjective } from './objective';
import { ParallelRunner } from './parallel/coordinator';
import { Replica } from './parallel/replica';
import { resolveThreads } from './parallel/threads';
import type { Stepper, StepperOptions } from './train_step';

/**
 * What {@link startRunner} needs.
 *
 * @example
 * ```ts
 * const options: RunnerOptions = { model, objective, data: trainSet, stepper, stepperOptions,
 *   threads: undefined, batchSize: 1024, seed: 0, epochs: 10 };
 * ```
 */
export interface RunnerOptions {
  /** The model to train (the main thread's replica). */
  model: tfl.LayersModel;
  /** The objective (registered by name, so workers can rebuild it). */
  objective: TrainingObjective;
  /** Its data (structured-cloneable). */
  data: unknown;
  /** The main thread's optimiser over `model`. */
  stepper: Stepper;
  /** The settings `stepper` was built with. */
  stepperOptions: StepperOptions;
  /** Threads asked for, or undefined for the default (see `resolveThreads`). */
  threads: number | undefined;
  /** Examples per global batch. */
  batchSize: number;
  /** Seed of the shuffles. */
  seed: number;
  /** Epochs planned (for the default thread count). */
  epochs: number;
  /** The public function's name, for errors. */
  caller: string;
}

/**
 * A runner over `threads` threads (resolved from the option and the run's size); dispose it.
 *
 * @example
 * ```ts
 * const runner = await startRunner(options);
 * try {
 *   for (let e = 0; e < epochs; e++) await runner.runEpoch(e, () => false, (loss) => {});
 * } finally {
 *   await runner.dispose();
 * }
 * ```
 */
export async function startRunner(o: RunnerOptions): Promise<EpochRunner> {
  const steps = o.objective.steps(o.data, o.batchSize);
  // A step's work is its targets: a batch of 128 sequences trains on thousands of positions.
  const examplesPerStep = o.batchSize * (o.objective.targetsPerExample?.(o.data) ?? 1);
  const threads = await resolveThreads(o.threads, { batchSize: examplesPerStep, steps: steps * o.epochs }, o.caller);
  if (threads === 1) {
    return new LocalRunner(new Replica(o.model, o.objective, o.data, o.stepper, { index: 0, count: 1 }), o.batchSize, o.seed);
  }
  return ParallelRunner.start({
    model: o.model, stepper: o.stepper, stepperOptions: o.stepperOptions, objective: o.objective,
    data: o.data, threads, batchSize: o.batchSize, seed: o.seed,
  });
}
