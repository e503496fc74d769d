/**
 * `loadWarmGenerator`: a generator made ready to serve, wherever it runs (the server's own
 * thread, or a generator thread): loaded, its weights checked finite, two full-size warm-up
 * calls run (the first's parameters checked finite, the second timed).
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import { checkFiniteWeights } from '../wrap/finite_weights';
import { GeneratorInfo, GeneratorRunner } from './generator_runner';
import { loadGenerator } from './load_generator';
import { GeneratorRow } from './requests';

/** Settings of {@link loadWarmGenerator}. */
export interface WarmGeneratorOptions {
  /** Generator input length, for generators whose length is not fixed. */
  sequenceLength?: number;
  /** Vocabulary size, when the ParameterGenerator's cannot be read. */
  vocabSize?: number;
  /** Rows per warm-up call (the service's `maxBatch`, at most {@link WARMUP_ROWS}). */
  warmupRows: number;
}

/** A loaded, checked and warmed generator. */
export interface WarmGenerator {
  generator: tfl.LayersModel;
  runner: GeneratorRunner;
  /** Whether the generator was loaded here (from a folder): then it is the caller's to dispose. */
  owned: boolean;
  /** How long the second warm-up call took, in seconds (primes the queue's wait estimate). */
  warmupSeconds: number;
  /** The rows of that call. */
  warmupRows: number;
}

/** Most rows of a warm-up call (a very large `maxBatch` would make start-up slow). */
export const WARMUP_ROWS = 256;

/** The rows of a warm-up call: the shortest valid request the generator accepts, `count` times. */
function warmupRows(info: GeneratorInfo, count: number): GeneratorRow[] {
  const row: GeneratorRow = info.vocabSize !== null ? { kind: 'ids', ids: [1] } :
    { kind: 'embeddings', vectors: new Float32Array(info.embeddingDim as number), time: 1 };
  return Array.from({ length: count }, () => row);
}

/**
 * Loads (from a folder, or takes the model given), checks and warms a generator. Throws naming
 * the problem and `caller`: a folder that does not load, non-finite weights (naming the layer),
 * a generator that gives non-finite parameters.
 *
 * @example
 * ```ts
 * const { runner, warmupSeconds } = await loadWarmGenerator({ path: './models/duet' },
 *   { warmupRows: 64 }, 'createServer');
 * ```
 */
export async function loadWarmGenerator(from: { path: string } | { model: tfl.LayersModel },
    options: WarmGeneratorOptions, caller = 'createServer'): Promise<WarmGenerator> {
  const owned = 'path' in from;
  const where = owned ? ` in '${from.path}'` : '';
  let generator: tfl.LayersModel;
  try {
    generator = await loadGenerator(owned ? from.path : from.model);
  } catch (e) {
    throw new Error(`'${caller}': cannot load the model${where}: ${(e as Error).message}`);
  }
  let runner: GeneratorRunner | null = null;
  try {
    checkFiniteWeights(generator, caller);
    runner = new GeneratorRunner(generator, {
      sequenceLength: options.sequenceLength, vocabSize: options.vocabSize,
    });
    const rows = Math.max(1, Math.min(options.warmupRows, WARMUP_ROWS));
    const input = warmupRows(runner.info, rows);
    // The first call pays one-time costs (kernel setup, JIT) and is checked; the second is timed.
    const values = await runner.generate(input);
    const began = performance.now();
    await runner.generate(input);
    const warmupSeconds = (performance.now() - began) / 1000;
    const total = runner.info.total;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new Error(`'${caller}': the generator${where} gives non-finite parameters ` +
          `(value ${i % total} of ${total} is ${values[i]}) for a one-item ` +
          `warm-up sequence; it cannot serve`);
      }
    }
    return { generator, runner, owned, warmupSeconds, warmupRows: rows };
  } catch (e) {
    runner?.dispose();
    if (owned) generator.dispose();
    throw e;
  }
}
