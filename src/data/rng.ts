/**
 * The one seeded random number generator everything that samples or shuffles uses, so a seed
 * reproduces a run exactly on every platform. Browser-safe.
 */

/**
 * The mulberry32 generator: a 32-bit state, uniform floats in [0, 1). Fast and good enough for
 * sampling and shuffling (not for cryptography).
 *
 * @example
 * ```ts
 * const next = mulberry32(42);
 * next(); // the same float in [0, 1) on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded generator with the draws the data code needs.
 *
 * @example
 * ```ts
 * const rng: Rng = createRng(3);
 * const coin = rng.next() < 0.5;
 * ```
 */
export interface Rng {
  /** A uniform float in [0, 1). */
  next(): number;
  /** A uniform integer in [0, n). */
  int(n: number): number;
  /** A standard normal draw (Box-Muller). */
  normal(): number;
  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T;
}

/**
 * A seeded {@link Rng} built on {@link mulberry32}.
 *
 * @example
 * ```ts
 * const rng = createRng(0);
 * rng.int(10);                  // an integer in [0, 10)
 * rng.shuffle([1, 2, 3, 4]);    // the same order for seed 0 every time
 * ```
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new Error(`'seed' passed to 'createRng' must be an integer, got ${String(seed)}`);
  }
  const next = mulberry32(seed);
  let spare: number | undefined;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal() {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // 1 - u keeps the log argument in (0, 1].
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
    shuffle(array) {
      for (let i = array.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = array[i];
        array[i] = array[j];
        array[j] = t;
      }
      return array;
    },
  };
}
