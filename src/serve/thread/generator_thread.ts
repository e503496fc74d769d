/**
 * `GeneratorThread`: the server's side of a generator running in a worker thread of its own, so
 * that its calls (≈ 10 ms for 256 rows on wasm) do not hold up the event loop that reads,
 * refuses and answers requests. The thread loads the model folder itself on the server's
 * backend; rows and outputs cross as transferred buffers. Node only.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';

import { nodeRequire } from '../../backend/node_env';
import { workerSource } from '../../backend/worker_source';
import type { GeneratorInfo } from '../generator_runner';
import { packedBuffers, packRows } from '../packed_rows';
import type { GeneratorRow, RequestLimits } from '../requests';
import { ServeError } from '../serve_error';
import type { FromGeneratorThread, GeneratorThreadData } from './protocol';

/** What {@link GeneratorThread.start} needs. */
export interface GeneratorThreadOptions {
  /** The model folder. Required. */
  path: string;
  /** The backend the thread runs on (`tf.getBackend()` of the server: the same choice). Required. */
  backend: string;
  /** Generator input length, for generators whose length is not fixed. */
  sequenceLength?: number;
  /** Vocabulary size, when the ParameterGenerator's cannot be read. */
  vocabSize?: number;
  /** Rows per warm-up call. Required. */
  warmupRows: number;
  /** Named in load errors. Default `'createServer'`. */
  caller?: string;
}

/** One call's outputs and its own time in the thread. */
export interface ThreadBatch {
  values: Float32Array;
  /** How long the call ran in the thread, in seconds (waiting behind another not included). */
  seconds: number;
}

interface Call {
  resolve(batch: ThreadBatch): void;
  reject(error: unknown): void;
}

/**
 * A generator in a worker thread.
 *
 * @example
 * ```ts
 * const thread = await GeneratorThread.start({ path: './models/duet', backend: 'wasm', warmupRows: 64 });
 * const { values } = await thread.generate([{ kind: 'ids', ids: [3, 9, 27] }]);
 * thread.onFailure((e) => console.error(e.message)); // the thread died: every call fails now
 * await thread.terminate();
 * ```
 */
export class GeneratorThread {
  private static readonly alive = new Set<NodeWorker>();

  /** Generator threads of this process that are running: started (loading or ready), not exited. */
  static get running(): number {
    return GeneratorThread.alive.size;
  }

  /** What the generator accepts and produces. */
  readonly info: GeneratorInfo;
  /** Request limits for `parseParametersRequest` (without `maxSequences`). */
  readonly limits: Omit<RequestLimits, 'maxSequences'>;
  /** The second warm-up call's time in seconds, and its rows. */
  readonly warmup: { seconds: number; rows: number };

  private readonly calls = new Map<number, Call>();
  private nextId = 0;
  private failureError: ServeError | null = null;
  private readonly listeners: Array<(error: ServeError) => void> = [];
  private stopping: Promise<void> | null = null;

  private constructor(private readonly worker: NodeWorker,
      ready: Extract<FromGeneratorThread, { type: 'ready' }>) {
    this.info = ready.info;
    this.limits = ready.limits;
    this.warmup = { seconds: ready.warmupSeconds, rows: ready.warmupRows };
    worker.on('message', (m: FromGeneratorThread) => this.receive(m));
    worker.on('error', (e: Error) => this.fail(`failed: ${e.message}`));
    worker.on('exit', (code: number) => {
      if (this.stopping === null) this.fail(`exited (code ${code})`);
    });
  }

  /**
   * Starts the thread and resolves once its model is loaded, checked and warmed; rejects with
   * the thread's own error (a folder that does not load, non-finite weights or parameters), the
   * thread then gone.
   */
  static async start(options: GeneratorThreadOptions): Promise<GeneratorThread> {
    const { Worker } = (await nodeRequire())('node:worker_threads') as typeof import('node:worker_threads');
    const source = await workerSource({ source: 'serve/thread/thread_entry.ts', built: 'serve_worker.js' });
    const workerData: GeneratorThreadData = {
      path: options.path, backend: options.backend, sequenceLength: options.sequenceLength,
      vocabSize: options.vocabSize, warmupRows: options.warmupRows,
      caller: options.caller ?? 'createServer',
    };
    const worker = source.kind === 'file' ? new Worker(source.path, { workerData }) :
      new Worker(source.code, { eval: true, workerData });
    GeneratorThread.alive.add(worker);
    worker.once('exit', () => GeneratorThread.alive.delete(worker));
    let ready: Extract<FromGeneratorThread, { type: 'ready' }>;
    try {
      ready = await new Promise((resolve, reject) => {
        const onExit = (code: number) => reject(new Error(`'${workerData.caller}': the generator ` +
          `thread exited (code ${code}) before its model was ready`));
        worker.once('exit', onExit);
        worker.once('error', (e: Error) => reject(new Error(`'${workerData.caller}': the ` +
          `generator thread failed to start: ${e.message}`)));
        worker.once('message', (m: FromGeneratorThread) => {
          worker.off('exit', onExit);
          if (m.type === 'ready') resolve(m);
          else if (m.type === 'error') reject(new Error(/Unknown layer/.test(m.message) ? `${m.message} ` +
            `(the generator thread knows duet-tf's layer classes only; for a model with layer ` +
            `classes of your own, use generatorThread: false)` : m.message));
          else reject(new Error(`'${workerData.caller}': the generator thread sent '${m.type}' ` +
            `before it was ready`));
        });
      });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return new GeneratorThread(worker, ready);
  }

  /** Parameter vectors for the rows, `[rows.length × total]`, with the call's time in the thread. */
  generate(rows: readonly GeneratorRow[]): Promise<ThreadBatch> {
    if (this.failureError !== null) return Promise.reject(this.failureError);
    if (this.stopping !== null) return Promise.reject(this.stoppedError());
    const packed = packRows(rows, this.info.sequenceLength, this.info.embeddingDim);
    const id = this.nextId++;
    return new Promise<ThreadBatch>((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, packed }, packedBuffers(packed));
    });
  }

  /** Rows' calls posted and not answered yet. */
  get pendingCalls(): number {
    return this.calls.size;
  }

  /** The 500 every call gets once the thread has died, else null. */
  get failure(): ServeError | null {
    return this.failureError;
  }

  /** Calls `listener` once if the thread dies (not after {@link GeneratorThread.terminate}). */
  onFailure(listener: (error: ServeError) => void): void {
    if (this.failureError !== null) listener(this.failureError);
    else this.listeners.push(listener);
  }

  /** Stops the thread (calls still pending fail with 500 `generator_failed`). Idempotent. */
  terminate(): Promise<void> {
    this.stopping ??= (async () => {
      await this.worker.terminate();
      const error = this.stoppedError();
      for (const call of this.calls.values()) call.reject(error);
      this.calls.clear();
    })();
    return this.stopping;
  }

  private stoppedError(): ServeError {
    return new ServeError(500, 'generator_failed', `the generator thread of this model was ` +
      `stopped`);
  }

  private receive(m: FromGeneratorThread): void {
    if (m.type !== 'done' && m.type !== 'failed') return;
    const call = this.calls.get(m.id);
    if (call === undefined) return;
    this.calls.delete(m.id);
    if (m.type === 'done') call.resolve({ values: m.values, seconds: m.seconds });
    else call.reject(new Error(m.message));
  }

  private fail(what: string): void {
    if (this.failureError !== null) return;
    const error = new ServeError(500, 'generator_failed', `the generator thread ${what}; this ` +
      `service cannot generate parameters until it restarts (or reloads its model)`);
    this.failureError = error;
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
    for (const listener of this.listeners.splice(0)) listener(error);
    void this.worker.terminate();
  }
}
