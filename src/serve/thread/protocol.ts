/**
 * What the server and its generator thread tell each other (`node:worker_threads` messages).
 * The thread is started with a {@link GeneratorThreadData}; it loads, checks and warms the
 * model, then answers `ready` (or `error` and exits). Each `run` gets one `done` (or
 * `failed`), in order; rows and outputs cross as transferred buffers.
 */
import type { GeneratorInfo } from '../generator_runner';
import type { PackedRows } from '../packed_rows';
import type { RequestLimits } from '../requests';

/** The thread's `workerData`. */
export interface GeneratorThreadData {
  /** The model folder to load. */
  path: string;
  /** The backend to run on (the server's). */
  backend: string;
  sequenceLength?: number;
  vocabSize?: number;
  /** Rows per warm-up call. */
  warmupRows: number;
  /** Named in load errors (`'createServer'`). */
  caller: string;
}

/** Server → thread. */
export type ToGeneratorThread = { type: 'run'; id: number; packed: PackedRows };

/** Thread → server. */
export type FromGeneratorThread =
  | { type: 'ready'; info: GeneratorInfo; limits: Omit<RequestLimits, 'maxSequences'>;
    warmupSeconds: number; warmupRows: number; backend: string }
  /** The model could not be loaded or warmed: the thread exits after this. */
  | { type: 'error'; message: string }
  /** `seconds`: the call's own time in the thread (what the queue drains at). */
  | { type: 'done'; id: number; values: Float32Array; seconds: number }
  | { type: 'failed'; id: number; message: string };

/**
 * Environment variable read by the thread, for tests of a dying thread only: after this many
 * `run` calls the thread exits (code 70) instead of answering the next one.
 */
export const EXIT_AFTER_ENV = 'DUET_TEST_GENERATOR_THREAD_EXIT_AFTER';
