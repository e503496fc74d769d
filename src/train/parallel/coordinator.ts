/**
 * The main thread's side of data-parallel training: starts `threads − 1` worker threads, each
 * with a replica of the model, and takes shard 0 of every batch itself on its own model (so the
 * caller's model is always current: validation, snapshots and `onEpoch` see it as with one
 * thread). Each step every thread computes its shard's gradient, the gradients are summed
 * through shared memory in shard order, and every thread applies the same update. Node only.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Worker as NodeWorker } from 'node:worker_threads';

import { nodeRequire } from '../../backend/node_env';
import { workerSource } from '../../backend/worker_source';
import type { EpochRunner } from '../epoch_runner';
import type { ObjectiveSpec, TrainingObjective } from '../objective';
import type { Stepper, StepperOptions } from '../train_step';
import { BarrierFailed } from './barrier';
import { GradientExchange } from './gradient_exchange';
import type { EpochMessage, InitMessage, WeightValues, WorkerReport } from './protocol';
import { Replica, gradientSize, type StepLoss } from './replica';

/**
 * What {@link ParallelRunner.start} needs.
 *
 * @example
 * ```ts
 * const runner = await ParallelRunner.start({ model, stepper, stepperOptions, objective, data,
 *   threads: 2, batchSize: 1024, seed: 0 });
 * ```
 */
export interface ParallelRunnerOptions {
  /** The model: the main thread's replica, and what the workers copy. */
  model: tfl.LayersModel;
  /** The main thread's optimiser over `model`. */
  stepper: Stepper;
  /** The settings `stepper` was built with (each worker builds its own). */
  stepperOptions: StepperOptions;
  /** The objective (rebuilt in each worker from its name and options). */
  objective: TrainingObjective;
  /** The training data, posted to each worker once. */
  data: unknown;
  /** Threads in all, ≥ 2. */
  threads: number;
  /** Examples per global batch. */
  batchSize: number;
  /** Seed of the shuffles. */
  seed: number;
}

function weightValues(model: tfl.LayersModel): WeightValues[] {
  return model.getWeights().map((w) => ({
    values: w.dataSync() as Float32Array | Int32Array | Uint8Array,
    shape: w.shape.slice(),
    dtype: w.dtype as WeightValues['dtype'],
  }));
}

/**
 * Data-parallel training over `threads` threads (this one and `threads − 1` workers).
 *
 * @example
 * ```ts
 * const runner = await ParallelRunner.start(options);
 * try {
 *   await runner.runEpoch(0, () => false, (loss) => console.log(loss.sum / loss.count));
 * } finally {
 *   await runner.dispose();
 * }
 * ```
 */
export class ParallelRunner implements EpochRunner {
  private step = 0;
  private closing = false;
  private failure: Error | undefined;
  private rejectFailure: (err: Error) => void = () => {};
  private readonly failed: Promise<never>;

  private constructor(
    readonly threads: number,
    private readonly replica: Replica,
    private readonly exchange: GradientExchange,
    private readonly workers: NodeWorker[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.failed = new Promise<never>((_, reject) => { this.rejectFailure = reject; });
    this.failed.catch(() => undefined);
  }

  /** Starts the workers and resolves once every replica is built; rejects with a worker's error. */
  static async start(o: ParallelRunnerOptions): Promise<ParallelRunner> {
    if (!Number.isInteger(o.threads) || o.threads < 2) throw new Error(`ParallelRunner needs ≥ 2 threads, got ${o.threads}`);
    const req = await nodeRequire();
    const { Worker } = req('node:worker_threads') as typeof import('node:worker_threads');
    const source = await workerSource({ source: 'train/parallel/worker_entry.ts', built: 'train_worker.js' });
    const exchange = GradientExchange.create(o.threads, gradientSize(o.stepper));
    const replica = new Replica(o.model, o.objective, o.data, o.stepper, { index: 0, count: o.threads }, exchange);
    const spec: ObjectiveSpec = { name: o.objective.name, options: o.objective.options };
    const base: Omit<InitMessage, 'shard'> = {
      type: 'init',
      backend: tf.getBackend(),
      modelTopology: JSON.parse(JSON.stringify(o.model.toJSON(null, false))) as object,
      weights: weightValues(o.model),
      trainableShapes: o.model.trainableWeights.map((w) => w.shape.slice() as number[]),
      objective: spec,
      data: o.data,
      stepper: o.stepperOptions,
      optimizer: o.stepper.exportState(),
      exchange: exchange.layout,
      batchSize: o.batchSize,
      seed: o.seed,
    };
    const workers: NodeWorker[] = [];
    const runner = new ParallelRunner(o.threads, replica, exchange, workers, o.batchSize, o.seed);
    const ready: Array<Promise<void>> = [];
    for (let index = 1; index < o.threads; index++) {
      const worker = source.kind === 'file' ? new Worker(source.path) : new Worker(source.code, { eval: true });
      workers.push(worker);
      ready.push(new Promise<void>((resolve, reject) => {
        worker.on('message', (m: WorkerReport) => {
          if (m.type === 'ready') resolve();
          else {
            const err = new Error(`training thread ${index}: ${m.message}`);
            reject(err);
            runner.fail(err);
          }
        });
        worker.on('error', (e: Error) => {
          const err = new Error(`training thread ${index}: ${e.message}`);
          reject(err);
          runner.fail(err);
        });
        worker.on('exit', (code: number) => {
          if (runner.closing) return;
          const err = new Error(`training thread ${index} exited (code ${code})`);
          reject(err);
          runner.fail(err);
        });
      }));
      worker.postMessage({ ...base, shard: { index, count: o.threads } } satisfies InitMessage);
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      await runner.dispose();
      throw err;
    }
    return runner;
  }

  /** Records the first failure and wakes every thread waiting on the barrier. */
  private fail(err: Error): void {
    if (this.failure !== undefined || this.closing) return;
    this.failure = err;
    this.exchange.barrier.fail();
    this.rejectFailure(err);
  }

  async runEpoch(epoch: number, stop: () => boolean, onStep: (loss: StepLoss) => void): Promise<{ aborted: boolean }> {
    if (this.failure !== undefined) throw this.failure;
    const message: EpochMessage = { type: 'epoch', epoch, firstStep: this.step };
    for (const worker of this.workers) worker.postMessage(message);
    try {
      for (const batch of this.replica.batches(epoch, this.batchSize, this.seed)) {
        try {
          this.replica.contribute(this.step, batch);
        } finally {
          tf.dispose([...batch.inputs, ...batch.tensors]);
        }
        const last = stop();
        this.exchange.requestStop(this.step, last);
        await Promise.race([this.exchange.barrier.arriveAndWaitAsync(), this.failed]);
        this.replica.reduceShare(this.step);
        await Promise.race([this.exchange.barrier.arriveAndWaitAsync(), this.failed]);
        onStep(this.replica.applyReduced(this.step));
        this.step++;
        if (last) return { aborted: true };
      }
    } catch (err) {
      if (err instanceof BarrierFailed && this.failure !== undefined) throw this.failure;
      this.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    return { aborted: false };
  }

  async dispose(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
