/**
 * `ServedModel`: one loaded, checked and warmed generator with its own batcher: what the service
 * answers requests with. The generator runs on the server's thread, or in a generator thread of
 * its own (a model folder only). A reload builds a new one beside the current, switches to it,
 * and retires the old one once its requests are done (its thread, if any, then terminated).
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import type { IdMap } from '../../data/id_map';
import type { GeneratorInfo } from '../generator_runner';
import { MicroBatcher } from '../micro_batcher';
import type { GeneratorRow, RequestLimits } from '../requests';
import type { ServeError } from '../serve_error';
import { GeneratorThread } from '../thread/generator_thread';
import { loadWarmGenerator } from '../warm_generator';
import { ModelSource } from './model_versions';

/** Settings a served model is built with (the service's options). */
export interface ServedModelOptions {
  sequenceLength?: number;
  vocabSize?: number;
  maxBatch?: number;
  maxWaitMs?: number;
  maxQueue?: number;
  maxQueueMs?: number;
  /**
   * Run the generator in a worker thread of its own, on `backend` (a model folder only).
   * Default false.
   */
  thread?: boolean;
  /** The backend a generator thread runs on (the server's). Required with `thread`. */
  backend?: string;
  /** Called after each generator call with its row count and duration in seconds. */
  onBatch?: (rows: number, seconds: number) => void;
}

/** Calls in flight with a generator thread: one running there, the next one waiting in it. */
const THREAD_CALLS_IN_FLIGHT = 2;

/** Where a served model's generator runs: what it accepts, how to call it, how to release it. */
interface GeneratorHost {
  info: GeneratorInfo;
  limits: Omit<RequestLimits, 'maxSequences'>;
  warmup: { seconds: number; rows: number };
  generate(rows: GeneratorRow[]): Promise<Float32Array | { values: Float32Array; seconds: number }>;
  /** The error every call gets once the generator cannot run any more (a dead thread), or null. */
  readonly failure: ServeError | null;
  release(): Promise<void>;
}

/** The generator on this thread. */
async function localHost(from: { source: ModelSource } | { model: tfl.LayersModel },
    options: ServedModelOptions, caller: string): Promise<GeneratorHost> {
  const warm = await loadWarmGenerator('source' in from ? { path: from.source.path } : from,
    { sequenceLength: options.sequenceLength, vocabSize: options.vocabSize,
      warmupRows: options.maxBatch ?? 64 }, caller);
  const { runner, generator } = warm;
  return {
    info: runner.info,
    limits: runner.limits,
    warmup: { seconds: warm.warmupSeconds, rows: warm.warmupRows },
    generate: (rows) => runner.generate(rows),
    failure: null,
    async release() {
      runner.dispose();
      if (!warm.owned) return;
      try {
        generator.dispose();
      } catch {
        // Already released: nothing left to free.
      }
    },
  };
}

/** The generator in a thread of its own, which loads the folder itself. */
async function threadHost(source: ModelSource, options: ServedModelOptions,
    caller: string): Promise<{ host: GeneratorHost; thread: GeneratorThread }> {
  if (options.backend === undefined) throw new Error(`'${caller}': a generator thread needs a backend name`);
  const thread = await GeneratorThread.start({
    path: source.path, backend: options.backend, sequenceLength: options.sequenceLength,
    vocabSize: options.vocabSize, warmupRows: options.maxBatch ?? 64, caller,
  });
  return {
    thread,
    host: {
      info: thread.info,
      limits: thread.limits,
      warmup: thread.warmup,
      generate: (rows) => thread.generate(rows),
      get failure() {
        return thread.failure;
      },
      release: () => thread.terminate(),
    },
  };
}

/**
 * A generator ready to serve: loaded (from a folder, or given), its weights checked finite, one
 * full-size warm-up call run (its parameters checked finite, its time priming the queue's wait
 * estimate), on this thread or in a generator thread.
 */
export class ServedModel {
  /** What the generator accepts and produces. */
  readonly info: GeneratorInfo;
  /** Request limits for `parseParametersRequest` (without `maxSequences`). */
  readonly limits: Omit<RequestLimits, 'maxSequences'>;
  /** The batcher requests for this model go through. */
  readonly batcher: MicroBatcher<GeneratorRow>;
  /** Headers of a binary answer, per format (built once). */
  readonly headers: Record<string, Record<string, string>> = {};
  /** The item map requests' ids go through (the folder's items.tsv), or null for model indices. */
  items: IdMap | null = null;

  private active = 0;
  private idle: Array<() => void> = [];
  private retired: Promise<void> | null = null;

  private constructor(private readonly host: GeneratorHost,
      /** Where the model came from, or null for an in-memory model. */
      readonly source: ModelSource | null,
      /** The generator thread, or null when the generator runs on the server's thread. */
      readonly thread: GeneratorThread | null,
      options: ServedModelOptions) {
    this.info = host.info;
    this.limits = host.limits;
    this.batcher = new MicroBatcher<GeneratorRow>((rows) => host.generate(rows), this.info.total, {
      maxBatch: options.maxBatch, maxWaitMs: options.maxWaitMs, maxQueue: options.maxQueue,
      maxQueueMs: options.maxQueueMs, onBatch: options.onBatch,
      concurrency: thread === null ? 1 : THREAD_CALLS_IN_FLIGHT,
    });
    this.batcher.observe(host.warmup.rows, host.warmup.seconds);
  }

  /**
   * Loads, checks and warms a model. `source` (a folder) or `model` (in memory) gives it; with
   * `options.thread`, a generator thread loads the folder. Throws naming the problem: a folder
   * that does not load, non-finite weights (naming the layer), a generator that gives non-finite
   * parameters.
   */
  static async load(from: { source: ModelSource } | { model: tfl.LayersModel },
      options: ServedModelOptions, caller = 'createServer'): Promise<ServedModel> {
    if (options.thread === true) {
      if (!('source' in from)) {
        throw new Error(`'${caller}': a generator thread loads the model from its folder; a ` +
          `model in memory runs on the server's thread (generatorThread: false)`);
      }
      const { host, thread } = await threadHost(from.source, options, caller);
      return new ServedModel(host, from.source, thread, options);
    }
    const host = await localHost(from, options, caller);
    return new ServedModel(host, 'source' in from ? from.source : null, null, options);
  }

  /** The version number, or null (an unversioned folder, or a model in memory). */
  get version(): number | null {
    return this.source?.version ?? null;
  }

  /** The 500 every request gets once the generator cannot run (its thread died), else null. */
  get failure(): ServeError | null {
    return this.host.failure;
  }

  /** Marks a request as using this model (until {@link ServedModel.end}). */
  begin(): void {
    this.active++;
  }

  /** Marks a request as done with this model. */
  end(): void {
    this.active--;
    if (this.active === 0) {
      const waiters = this.idle;
      this.idle = [];
      waiters.forEach((w) => w());
    }
  }

  /**
   * Stops using the model: waits until its requests are answered (at most `timeoutMs`), then
   * releases it (its weights too when it loaded them; its thread). Idempotent.
   */
  retire(timeoutMs = Infinity): Promise<void> {
    this.retired ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        (async () => {
          await this.batcher.drain();
          if (this.active > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
        })(),
        new Promise<void>((resolve) => {
          if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      await this.host.release();
    })();
    return this.retired;
  }
}
