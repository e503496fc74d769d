/**
 * How many threads `train` uses: the `threads` option checked, and its default (every core
 * where worker threads exist, for runs big enough to gain from them; 1 elsewhere, e.g. browsers).
 */
import { isNode, nodeRequire } from '../../backend/node_env';

/**
 * Below this many training targets per thread and step, one thread is faster than many (start-up,
 * copying): a pointwise example is one target, a sequence one per position it trains on.
 */
export const MIN_EXAMPLES_PER_THREAD = 128;
/** Runs shorter than this many steps train on one thread by default: starting workers costs ~1 s. */
export const MIN_STEPS_FOR_THREADS = 8;

/**
 * The cores of this machine available to Node (`os.availableParallelism()`), or 1 outside Node.
 *
 * @example
 * ```ts
 * const cores = await availableCores(); // 2 on a 2-core machine
 * ```
 */
export async function availableCores(): Promise<number> {
  if (!isNode()) return 1;
  const req = await nodeRequire();
  try {
    req('node:worker_threads');
  } catch {
    return 1;
  }
  const os = req('node:os') as { availableParallelism?: () => number; cpus(): unknown[] };
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * The thread count for a run: `threads` itself when given (checked), else every core when each
 * thread would get at least {@link MIN_EXAMPLES_PER_THREAD} targets per step (`run.batchSize`: the
 * step's targets) and the run has at least {@link MIN_STEPS_FOR_THREADS} steps, else 1.
 *
 * @example
 * ```ts
 * await resolveThreads(undefined, { batchSize: 1024, steps: 200 }, 'train'); // every core
 * await resolveThreads(1, { batchSize: 1024, steps: 200 }, 'train');         // 1
 * ```
 */
export async function resolveThreads(threads: number | undefined, run: { batchSize: number; steps: number },
    caller: string): Promise<number> {
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new Error(`'threads' passed to '${caller}' must be a positive integer, got ${String(threads)}`);
    }
    if (threads > 1 && (await availableCores()) === 1 && !isNode()) {
      throw new Error(`'threads' passed to '${caller}' is ${threads}, but worker threads need Node.js`);
    }
    return threads;
  }
  const cores = await availableCores();
  if (cores === 1 || run.steps < MIN_STEPS_FOR_THREADS) return 1;
  return Math.max(1, Math.min(cores, Math.floor(run.batchSize / MIN_EXAMPLES_PER_THREAD)));
}
