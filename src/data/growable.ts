/**
 * Typed arrays that grow by doubling, so readers can fill columns without knowing the row count
 * up front (and without holding rows as JS objects). Browser-safe; internal.
 */

type TypedArray = Int32Array | Float32Array;
type TypedArrayCtor<T extends TypedArray> = { new (length: number): T };

/** An append-only typed array; `toArray()` returns a trimmed copy. */
export class Growable<T extends TypedArray> {
  private buf: T;
  length = 0;

  constructor(private readonly ctor: TypedArrayCtor<T>, capacity = 1024) {
    this.buf = new ctor(Math.max(1, capacity));
  }

  /** Makes room for `extra` more values. */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < need) cap *= 2;
    const next = new this.ctor(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  push(value: number): void {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = value;
  }

  /** Drops values past `length` (to undo a partly appended row). */
  truncate(length: number): void {
    this.length = Math.min(this.length, length);
  }

  toArray(): T {
    return this.buf.slice(0, this.length) as T;
  }
}
