/**
 * `MicroBatcher`: merges rows from concurrent requests into one generator call, admitting rows
 * only while the queue's bounds hold (see {@link QueueAdmission}).
 */
import { QueueAdmission } from './admission';
import { ServeError } from './serve_error';

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most rows per generator call. Default 64. */
  maxBatch?: number;
  /**
   * How long the first queued row waits for others before a call starts, in ms. 0 waits only
   * for requests already received (one event-loop turn); under load, rows that arrive while a
   * call runs still share the next one, so batches grow with the load. Default 0.
   */
  maxWaitMs?: number;
  /** Most rows waiting at once; beyond it `submit` fails with 503 `overloaded`. Default 4096. */
  maxQueue?: number;
  /**
   * Longest expected wait for a call, in ms (rows ahead × the measured time per row, call after
   * call: the event-loop turns between calls included); beyond it
   * `submit` fails with 503 `overloaded`. Default: no time bound.
   */
  maxQueueMs?: number;
  /**
   * Most calls in flight at once. 1 (the generator runs on this thread): a call starts when the
   * previous one has ended. 2 (a generator thread): the next batch is sent while a call runs, so
   * the thread goes from one call to the next without waiting for this thread. Rows in flight
   * count as queued for admission. Default 1.
   */
  concurrency?: number;
  /** Called after each generator call with its row count and duration in seconds. */
  onBatch?: (rows: number, seconds: number) => void;
}

/**
 * What a run gives for a batch: the outputs, or the outputs with the call's own time in seconds
 * (a generator thread's, measured there: waiting behind another call not included), which the
 * wait estimate then uses.
 */
export type BatchResult = Float32Array | { values: Float32Array; seconds: number };

interface Entry<Row> {
  rows: readonly Row[];
  /** The outputs, for entries of several rows (allocated when the first batch answers). */
  out: Float32Array | null;
  left: number;
  failed: boolean;
  /** When it was queued (`performance.now()`). */
  at: number;
  resolve(values: Float32Array): void;
  reject(error: unknown): void;
}

interface Pending<Row> { entry: Entry<Row>; index: number }

/** Runs `f` after pending I/O callbacks: `setImmediate` in Node, a 0 ms timeout elsewhere. */
function nextTick(f: () => void): object {
  const g = globalThis as { setImmediate?: (f: () => void) => object };
  return typeof g.setImmediate === 'function' ? g.setImmediate(f) : setTimeout(f, 0);
}

/**
 * Queues rows and runs them in batches: a call starts when `maxBatch` rows are waiting or the
 * oldest has waited `maxWaitMs`; one call runs at a time, and rows arriving meanwhile go into the
 * next call right after it. Between two calls the event loop runs once (pending I/O first), so a
 * server stays responsive however long the queue: health checks, metrics and refusals are
 * answered between calls. Each submitter gets exactly its own rows' outputs, in order.
 *
 * @example
 * ```ts
 * const batcher = new MicroBatcher((rows) => runner.generate(rows), runner.info.total,
 *   { maxBatch: 64, maxWaitMs: 0 });
 * const [a, b] = await Promise.all([batcher.submit([rowA]), batcher.submit([rowB])]); // one call
 * ```
 */
export class MicroBatcher<Row> {
  private readonly queue: Pending<Row>[] = [];
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly maxQueue: number;
  private readonly admission: QueueAdmission;
  private rowsPerSubmit = 1;
  private readonly concurrency: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private immediate: object | null = null;
  /** Calls in flight (each settles after its answers and one event-loop turn). */
  private readonly running = new Set<Promise<void>>();
  /** Rows of the calls in flight, not answered yet. */
  private inFlightRows = 0;
  /** When the last call ended; whether rows were waiting after it (the next call follows it). */
  private lastEnd = 0;
  private followsCall = false;

  constructor(private readonly run: (rows: Row[]) => Promise<BatchResult>,
      private readonly width: number, private readonly options: MicroBatcherOptions = {}) {
    const check = (key: keyof MicroBatcherOptions, fallback: number, min: number) => {
      const v = options[key] ?? fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
        throw new Error(`'${key}' passed to 'MicroBatcher' must be an integer >= ${min}, got ` +
          `${String(options[key])}`);
      }
      return v;
    };
    this.maxBatch = check('maxBatch', 64, 1);
    this.maxWaitMs = check('maxWaitMs', 0, 0);
    this.maxQueue = check('maxQueue', 4096, 1);
    this.concurrency = check('concurrency', 1, 1);
    const maxQueueMs = options.maxQueueMs ?? Infinity;
    if (typeof maxQueueMs !== 'number' || !(maxQueueMs >= 0)) {
      throw new Error(`'maxQueueMs' passed to 'MicroBatcher' must be a number >= 0, got ` +
        `${String(options.maxQueueMs)}`);
    }
    this.admission = new QueueAdmission({ maxQueue: this.maxQueue, maxQueueMs, maxBatch: this.maxBatch });
  }

  /**
   * The 503 that `rows` more rows would get now, or null when they would be admitted: lets a
   * server refuse a request before reading its body.
   */
  refusal(rows: number): ServeError | null {
    return this.admission.refusal(this.queue.length + this.inFlightRows, rows);
  }

  /**
   * Rows per submission lately (a moving average; 1 before any): what a request whose body is
   * not read yet is likely to bring, for {@link MicroBatcher.refusal} before reading it.
   */
  get typicalRows(): number {
    return this.rowsPerSubmit;
  }

  /** Whether rows were refused within the last second (the service is not ready for more). */
  get overloaded(): boolean {
    return this.admission.overloaded();
  }

  /** Expected wait in ms of one more row behind those queued and in flight. */
  get estimatedWaitMs(): number {
    return this.admission.estimatedWaitMs(this.queue.length + this.inFlightRows, 1);
  }

  /** Records a call run outside the batcher (a warm-up), for the wait estimate. */
  observe(rows: number, seconds: number): void {
    this.admission.observeBatch(rows, seconds);
  }

  /** Rows waiting for a call. */
  get pending(): number {
    return this.queue.length;
  }

  /** Rows in calls that have started and not answered yet. */
  get inFlight(): number {
    return this.inFlightRows;
  }

  /**
   * Queues rows; resolves with their outputs `[rows.length × width]`. For one row this is a view
   * into the array the run returned (no copy): treat it as read-only.
   */
  submit(rows: readonly Row[]): Promise<Float32Array> {
    if (rows.length === 0) return Promise.resolve(new Float32Array(0));
    this.rowsPerSubmit += 0.1 * (rows.length - this.rowsPerSubmit);
    const refusal = this.refusal(rows.length);
    if (refusal !== null) return Promise.reject(refusal);
    return new Promise<Float32Array>((resolve, reject) => {
      const entry: Entry<Row> = {
        rows, out: null, left: rows.length, failed: false, at: performance.now(),
        resolve, reject,
      };
      rows.forEach((_, index) => this.queue.push({ entry, index }));
      this.schedule();
    });
  }

  /** Runs everything queued now and resolves once the queue is empty and no call runs. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running.size > 0) {
      if (this.running.size < this.concurrency) this.start();
      await Promise.all([...this.running]);
    }
  }

  /** Rows were queued: start a call now, after one event-loop turn, or after the batching delay. */
  private schedule(): void {
    // Calls in flight start the next one when they end; below `concurrency`, a full batch (or,
    // with a batching delay, one whose oldest row has waited it) is sent while others run.
    if (this.running.size >= this.concurrency) return;
    if (this.queue.length >= this.maxBatch) {
      this.start();
    } else if (this.timer === null && this.immediate === null) {
      if (this.maxWaitMs === 0) {
        // Adaptive batching: while a call runs, rows gather for the next (it starts when that
        // call ends, or when they fill a batch).
        if (this.running.size > 0) return;
        // Wait only for what already arrived: requests read in the same I/O phase join in.
        this.immediate = nextTick(() => {
          this.immediate = null;
          this.start();
        });
      } else {
        // The oldest row waits maxWaitMs in all (rows left over from a full call have waited
        // some of it already).
        const waited = performance.now() - this.queue[0].entry.at;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.start();
        }, Math.max(0, this.maxWaitMs - waited));
      }
    }
  }

  /** A call ended (its slot is free): the rows that waited for it go on. */
  private afterCall(): void {
    if (this.queue.length === 0) return;
    this.followsCall = true;
    // Adaptive batching has waited its turn already; a batching delay counts from the oldest row.
    if (this.maxWaitMs === 0) {
      if (this.running.size === 0 || this.queue.length >= this.maxBatch) this.start();
    } else {
      this.schedule();
    }
  }

  private start(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running.size >= this.concurrency || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    const chained = this.followsCall;
    this.followsCall = false;
    this.inFlightRows += batch.length;
    // Calls on this thread free their slot after one turn of the event loop (requests received
    // meanwhile are read, and refused or queued; health checks answered). Calls elsewhere (a
    // generator thread) free it as soon as their outputs arrive, before the answers are sent:
    // the next call starts at once, the thread never waits for this one.
    const early = this.concurrency > 1;
    const call: Promise<void> = this.runBatch(batch, chained, () => {
      if (early && this.running.delete(call)) this.afterCall();
    }).then(() => new Promise<void>((resolve) => nextTick(resolve))).finally(() => {
      if (this.running.delete(call)) this.afterCall();
    });
    this.running.add(call);
    // Room for another call in flight: what is still queued goes on as usual.
    if (this.queue.length > 0) this.schedule();
  }

  /** Runs one call; `chained`: it follows the previous call at once (the queue was not empty). */
  private async runBatch(batch: Pending<Row>[], chained: boolean, settled: () => void): Promise<void> {
    const began = performance.now();
    let values: Float32Array;
    let ownSeconds: number | null = null;
    try {
      const result = await this.run(batch.map((p) => p.entry.rows[p.index]));
      if (result instanceof Float32Array) values = result;
      else {
        values = result.values;
        ownSeconds = result.seconds;
      }
      if (values.length !== batch.length * this.width) {
        throw new Error(`'MicroBatcher': the run returned ${values.length} values for ` +
          `${batch.length} rows of width ${this.width}`);
      }
    } catch (error) {
      this.inFlightRows -= batch.length;
      this.lastEnd = performance.now();
      settled();
      for (const { entry } of batch) {
        if (!entry.failed) {
          entry.failed = true;
          entry.reject(error);
        }
      }
      return;
    }
    this.inFlightRows -= batch.length;
    const end = performance.now();
    settled();
    const seconds = (end - began) / 1000;
    // What admission estimates waits from. A generator thread's calls: their own time there
    // (the thread goes from call to call while this thread reads and refuses requests). Calls
    // on this thread: while the queue drains call after call, the time from the previous call's
    // end to this one's, the event-loop turn between them included (reading and refusing
    // requests, encoding answers): a queue drains at that pace, not at the calls' own. Counting
    // the calls alone, waits came out 2-4x longer than estimated under overload.
    this.admission.observeBatch(batch.length, ownSeconds ??
      (chained ? (end - this.lastEnd) / 1000 : seconds));
    this.lastEnd = end;
    this.options.onBatch?.(batch.length, ownSeconds ?? seconds);
    const w = this.width;
    batch.forEach(({ entry, index }, b) => {
      if (entry.failed) return;
      const row = values.subarray(b * w, (b + 1) * w);
      // One row (the usual request): its slice of the batch's outputs, no copy.
      if (entry.rows.length === 1) {
        entry.resolve(row);
        return;
      }
      entry.out ??= new Float32Array(entry.rows.length * w);
      entry.out.set(row, index * w);
      if (--entry.left === 0) entry.resolve(entry.out);
    });
  }
}
