/**
 * `ServedModel`: one loaded, checked and warmed generator with its own batcher: what the service
 * answers requests with. A reload builds a new one beside the current, switches to it, and retires
 * the old one once its requests are done.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import type { IdMap } from '../../data/id_map';
import { checkFiniteWeights } from '../../wrap/finite_weights';
import { GeneratorInfo, GeneratorRunner } from '../generator_runner';
import { loadGenerator } from '../load_generator';
import { MicroBatcher } from '../micro_batcher';
import { GeneratorRow } from '../requests';
import { ModelSource } from './model_versions';

/** Settings a served model is built with (the service's options). */
export interface ServedModelOptions {
  sequenceLength?: number;
  vocabSize?: number;
  maxBatch?: number;
  maxWaitMs?: number;
  maxQueue?: number;
  maxQueueMs?: number;
  /** Called after each generator call with its row count and duration in seconds. */
  onBatch?: (rows: number, seconds: number) => void;
}

/** Most rows of a warm-up call (a very large `maxBatch` would make start-up slow). */
const WARMUP_ROWS = 256;

/** The rows of a warm-up call: the shortest valid request the generator accepts, `count` times. */
function warmupRows(info: GeneratorInfo, count: number): GeneratorRow[] {
  const row: GeneratorRow = info.vocabSize !== null ? { kind: 'ids', ids: [1] } :
    { kind: 'embeddings', vectors: new Float32Array(info.embeddingDim as number), time: 1 };
  return Array.from({ length: count }, () => row);
}

/**
 * A generator ready to serve: loaded (from a folder, or given), its weights checked finite, one
 * full-size warm-up call run (its parameters checked finite, its time priming the queue's wait
 * estimate).
 */
export class ServedModel {
  /** What the generator accepts and produces. */
  readonly info: GeneratorInfo;
  /** The batcher requests for this model go through. */
  readonly batcher: MicroBatcher<GeneratorRow>;
  /** Headers of a binary answer, per format (built once). */
  readonly headers: Record<string, Record<string, string>> = {};
  /** The item map requests' ids go through (the folder's items.tsv), or null for model indices. */
  items: IdMap | null = null;

  private active = 0;
  private idle: Array<() => void> = [];
  private retired: Promise<void> | null = null;

  private constructor(readonly generator: tfl.LayersModel, readonly runner: GeneratorRunner,
      /** Where the model came from, or null for an in-memory model. */
      readonly source: ModelSource | null, private readonly owned: boolean,
      options: ServedModelOptions) {
    this.info = runner.info;
    this.batcher = new MicroBatcher<GeneratorRow>((rows) => runner.generate(rows), this.info.total, {
      maxBatch: options.maxBatch, maxWaitMs: options.maxWaitMs, maxQueue: options.maxQueue,
      maxQueueMs: options.maxQueueMs, onBatch: options.onBatch,
    });
  }

  /**
   * Loads, checks and warms a model. `source` (a folder) or `model` (in memory) gives it.
   * Throws naming the problem: a folder that does not load, non-finite weights (naming the
   * layer), a generator that gives non-finite parameters.
   */
  static async load(from: { source: ModelSource } | { model: tfl.LayersModel },
      options: ServedModelOptions, caller = 'createServer'): Promise<ServedModel> {
    const owned = 'source' in from;
    const where = owned ? ` in '${from.source.path}'` : '';
    let generator: tfl.LayersModel;
    try {
      generator = await loadGenerator(owned ? from.source.path : from.model);
    } catch (e) {
      throw new Error(`'${caller}': cannot load the model${where}: ${(e as Error).message}`);
    }
    let runner: GeneratorRunner | null = null;
    try {
      checkFiniteWeights(generator, caller);
      runner = new GeneratorRunner(generator, {
        sequenceLength: options.sequenceLength, vocabSize: options.vocabSize,
      });
      const served = new ServedModel(generator, runner, owned ? from.source : null, owned, options);
      await served.warmUp(Math.min(options.maxBatch ?? 64, WARMUP_ROWS), caller, where);
      return served;
    } catch (e) {
      runner?.dispose();
      if (owned) generator.dispose();
      throw e;
    }
  }

  /**
   * Two full-size calls: the first pays one-time costs (kernel setup, JIT) and is checked for
   * finite parameters; the second's time primes the queue's wait estimate.
   */
  private async warmUp(rows: number, caller: string, where: string): Promise<void> {
    const input = warmupRows(this.info, rows);
    const values = await this.runner.generate(input);
    const began = performance.now();
    await this.runner.generate(input);
    this.batcher.observe(rows, (performance.now() - began) / 1000);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new Error(`'${caller}': the generator${where} gives non-finite parameters ` +
          `(value ${i % this.info.total} of ${this.info.total} is ${values[i]}) for a one-item ` +
          `warm-up sequence; it cannot serve`);
      }
    }
  }

  /** The version number, or null (an unversioned folder, or a model in memory). */
  get version(): number | null {
    return this.source?.version ?? null;
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
   * releases it (its weights too when it loaded them). Idempotent.
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
      this.runner.dispose();
      if (this.owned) {
        try {
          this.generator.dispose();
        } catch {
          // Already released: nothing left to free.
        }
      }
    })();
    return this.retired;
  }
}
