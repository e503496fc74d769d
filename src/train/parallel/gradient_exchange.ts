/**
 * The shared memory of a data-parallel step: one gradient slot per shard (every trainable weight,
 * flat, in `model.trainableWeights` order) plus its loss sum and example count, and the reduced
 * (summed) gradient, all double-buffered by step parity so that a fast thread writing step k + 1
 * never overwrites what a slower one still reads of step k. The all-reduce is a reduce-scatter
 * then an all-gather: each thread sums its own 1/N of the vector over the slots (in shard order)
 * into the shared reduced vector, and after a barrier every thread reads the whole of it. So each
 * thread sums `size` values instead of `N · size`, and every thread gets the very same gradient,
 * bit for bit, and applies the same update.
 */
import { BARRIER_WORDS, SharedBarrier } from './barrier';

/** Int32 words before the float data: the barrier, then the stop flags (one per step parity). */
const HEADER_WORDS = 16;
const STOP = BARRIER_WORDS;

/**
 * What a thread needs to attach to an exchange: post it to a worker as is.
 *
 * @example
 * ```ts
 * const layout: ExchangeLayout = GradientExchange.create(2, 1000).layout;
 * ```
 */
export interface ExchangeLayout {
  /** The shared memory. */
  buffer: SharedArrayBuffer;
  /** Threads (shards). */
  shards: number;
  /** Gradient values per shard (all trainable weights). */
  size: number;
}

/**
 * One thread's view of the shared gradient memory.
 *
 * @example
 * ```ts
 * const exchange = GradientExchange.create(2, parameterCount);   // main thread
 * const mine = new GradientExchange(exchange.layout);           // a worker, from the posted layout
 * ```
 */
export class GradientExchange {
  /** The barrier every step waits on. */
  readonly barrier: SharedBarrier;
  private readonly header: Int32Array;
  /** Per step parity: `[shard × 2]` (loss sum, count). */
  private readonly losses: Float64Array[];
  /** Per step parity, per shard: the gradient slot. */
  private readonly slots: Float32Array[][];
  /** Per step parity: the reduced gradient (each shard writes its own chunk). */
  private readonly sums: Float32Array[];

  constructor(readonly layout: ExchangeLayout) {
    const { buffer, shards, size } = layout;
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.barrier = new SharedBarrier(this.header.subarray(0, BARRIER_WORDS), shards);
    let offset = HEADER_WORDS * 4;
    this.losses = [0, 1].map(() => {
      const view = new Float64Array(buffer, offset, 2 * shards);
      offset += view.byteLength;
      return view;
    });
    this.slots = [0, 1].map(() => Array.from({ length: shards }, () => {
      const view = new Float32Array(buffer, offset, size);
      offset += view.byteLength;
      return view;
    }));
    this.sums = [0, 1].map(() => {
      const view = new Float32Array(buffer, offset, size);
      offset += view.byteLength;
      return view;
    });
  }

  /**
   * A zeroed exchange for `shards` threads and `size` gradient values each.
   *
   * @example
   * ```ts
   * const exchange = GradientExchange.create(2, 4096);
   * ```
   */
  static create(shards: number, size: number): GradientExchange {
    if (!Number.isInteger(shards) || shards < 1) throw new Error(`'shards' passed to 'GradientExchange' must be a positive integer, got ${shards}`);
    if (!Number.isInteger(size) || size < 0) throw new Error(`'size' passed to 'GradientExchange' must be a non-negative integer, got ${size}`);
    const bytes = HEADER_WORDS * 4 + 2 * 2 * shards * 8 + 2 * (shards + 1) * size * 4;
    return new GradientExchange({ buffer: new SharedArrayBuffer(bytes), shards, size });
  }

  /** The slot shard `shard` writes its gradient into at step `step`. */
  slot(step: number, shard: number): Float32Array {
    return this.slots[step & 1][shard];
  }

  /** Records shard `shard`'s loss sum and example count for step `step`. */
  setLoss(step: number, shard: number, sum: number, count: number): void {
    const view = this.losses[step & 1];
    view[2 * shard] = sum;
    view[2 * shard + 1] = count;
  }

  /** Σ loss sums and Σ counts of step `step` over the shards, in shard order. */
  totalLoss(step: number): { sum: number; count: number } {
    const view = this.losses[step & 1];
    let sum = 0;
    let count = 0;
    for (let s = 0; s < this.layout.shards; s++) {
      sum += view[2 * s];
      count += view[2 * s + 1];
    }
    return { sum, count };
  }

  /**
   * The part `[begin, end)` of the gradient vector that shard `shard` reduces: contiguous
   * chunks covering it once, the first ones a value larger.
   */
  chunk(shard: number): [number, number] {
    const { shards, size } = this.layout;
    const base = Math.floor(size / shards);
    const extra = size % shards;
    const begin = shard * base + Math.min(shard, extra);
    return [begin, begin + base + (shard < extra ? 1 : 0)];
  }

  /**
   * Reduce-scatter: `scale · Σ_s slot_s` of step `step` over shard `shard`'s {@link chunk}, summed
   * in shard order (float32 after every addition), into the shared reduced vector. Every shard
   * calls it for its own chunk after the step's barrier; after a second barrier {@link reduced}
   * holds the whole sum.
   */
  reduceShare(step: number, shard: number, scale: number): void {
    const [begin, end] = this.chunk(shard);
    const slots = this.slots[step & 1];
    const out = this.sums[step & 1];
    out.set(slots[0].subarray(begin, end), begin);
    for (let s = 1; s < slots.length; s++) {
      const slot = slots[s];
      for (let i = begin; i < end; i++) out[i] += slot[i];
    }
    if (scale !== 1) for (let i = begin; i < end; i++) out[i] *= scale;
  }

  /** The reduced gradient of step `step` (whole once every shard's {@link reduceShare} is done). */
  reduced(step: number): Float32Array {
    return this.sums[step & 1];
  }

  /**
   * Whether every thread stops after step `step`: set by the main thread before it arrives at the
   * step's barrier. By parity, so that setting step k + 1's flag cannot change what a slower
   * thread reads for step k.
   */
  requestStop(step: number, stop: boolean): void {
    Atomics.store(this.header, STOP + (step & 1), stop ? 1 : 0);
  }

  /** Whether step `step` is the last of the epoch (read after the step's barrier). */
  stopRequested(step: number): boolean {
    return Atomics.load(this.header, STOP + (step & 1)) !== 0;
  }
}
