/**
 * Running one epoch of optimisation steps, on one thread or many: the loop `train` drives,
 * whatever the objective and the thread count.
 */
import * as tf from '@tensorflow/tfjs-core';

import { Yielder } from './event_loop';
import type { Replica, StepLoss } from './parallel/replica';

/**
 * Runs epochs of steps and reports each step's loss.
 *
 * @example
 * ```ts
 * const { aborted } = await runner.runEpoch(0, () => signal.aborted, (loss) => console.log(loss.sum / loss.count));
 * ```
 */
export interface EpochRunner {
  /** Threads taking part in each step. */
  readonly threads: number;
  /**
   * Runs epoch `epoch` (from 0). `stop` is asked after each step (the step is always completed);
   * `onStep` gets each step's loss over the whole global batch. Resolves `{ aborted }`.
   */
  runEpoch(epoch: number, stop: () => boolean, onStep: (loss: StepLoss) => void): Promise<{ aborted: boolean }>;
  /** Frees what the runner holds (worker threads). */
  dispose(): Promise<void>;
}

/**
 * One thread: every batch trained in this thread, yielding to the event loop now and then.
 *
 * @example
 * ```ts
 * const runner = new LocalRunner(new Replica(model, objective, data, stepper, { index: 0, count: 1 }), 1024, 0);
 * ```
 */
export class LocalRunner implements EpochRunner {
  readonly threads = 1;
  private readonly yielder = new Yielder();

  constructor(private readonly replica: Replica, private readonly batchSize: number, private readonly seed: number) {}

  async runEpoch(epoch: number, stop: () => boolean, onStep: (loss: StepLoss) => void): Promise<{ aborted: boolean }> {
    for (const batch of this.replica.batches(epoch, this.batchSize, this.seed)) {
      let loss: StepLoss;
      try {
        loss = this.replica.stepAlone(batch);
      } finally {
        tf.dispose([...batch.inputs, ...batch.tensors]);
      }
      onStep(loss);
      await this.yielder.maybeYield();
      if (stop()) return { aborted: true };
    }
    return { aborted: false };
  }

  async dispose(): Promise<void> {}
}
