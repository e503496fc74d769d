/**
 * Sampled candidates on a seq-loo-v1 split: for each user and held-out part, a fixed set of
 * uniform negatives that the user never interacted with (the S3-Rec paper's "99 sampled
 * negatives" table). Each user's draw depends only on (seed, part, user), so every run, model
 * and subset of users ranks the same candidates. Browser-safe.
 */
import { type SeqLooPart, type SeqLooSplit } from '../../data/protocols/seq_loo';
import { mulberry32 } from '../../data/rng';

/**
 * Negatives per user in the S3-Rec paper's sampled table (the target makes 100 candidates).
 *
 * @example
 * ```ts
 * sampleLooNegatives(split, 'test').count === SAMPLED_NEGATIVES; // true by default
 * ```
 */
export const SAMPLED_NEGATIVES = 99;

/**
 * Each user's sampled negatives for one part of a seq-loo-v1 split.
 *
 * @example
 * ```ts
 * const c: SampledCandidates = sampleLooNegatives(split, 'validation');
 * c.negatives.subarray(0, c.count); // user 1's negatives
 * ```
 */
export interface SampledCandidates {
  /** The held-out part they were drawn for. */
  part: SeqLooPart;
  /** Negatives per user. */
  count: number;
  /** The seed they were drawn from. */
  seed: number;
  /** Users 1..numUsers of the split. */
  numUsers: number;
  /**
   * `[numUsers * count]`: user u's negatives at `(u - 1) * count .. u * count`, distinct item ids,
   * none of them in the user's whole sequence (so never the validation or test target).
   */
  negatives: Int32Array;
}

/**
 * Options of {@link sampleLooNegatives}.
 *
 * @example
 * ```ts
 * const options: SampledNegativeOptions = { count: 99, seed: 0 };
 * ```
 */
export interface SampledNegativeOptions {
  /** Negatives per user. Default {@link SAMPLED_NEGATIVES} (99). */
  count?: number;
  /** Seed of the draw; keep it fixed to compare runs on the same candidates. Default 0. */
  seed?: number;
}

const PARTS: readonly SeqLooPart[] = ['validation', 'test'];

/** A 32-bit seed for one (seed, part, user), mixed so that neighbouring users draw unrelated streams. */
function userSeed(seed: number, part: SeqLooPart, user: number): number {
  let h = Math.imul(seed ^ 0x3c6ef372, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (PARTS.indexOf(part) + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ user, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Draws `count` distinct negatives per user for the `part` target of a seq-loo-v1 split,
 * uniformly among the items 1..numItems the user never interacted with (their whole sequence,
 * both held-out targets included), deterministically from `seed`, `part` and the user alone.
 *
 * @param split The seq-loo-v1 split.
 * @param part Which held-out target the negatives are ranked against.
 * @param options See {@link SampledNegativeOptions}.
 * @returns See {@link SampledCandidates}.
 * @throws When a user's sequence leaves fewer than `count` items to draw from, or on bad options.
 * @example
 * ```ts
 * const split = await readSeqLooSplit('data/beauty-loo');
 * const test = sampleLooNegatives(split, 'test');        // 99 per user, seed 0
 * const validation = sampleLooNegatives(split, 'validation');
 * ```
 */
export function sampleLooNegatives(split: SeqLooSplit, part: SeqLooPart,
    options: SampledNegativeOptions = {}): SampledCandidates {
  const fn = 'sampleLooNegatives';
  if (part !== 'validation' && part !== 'test') {
    throw new Error(`'part' passed to '${fn}' must be 'validation' or 'test', got ${String(part)}`);
  }
  const count = options.count ?? SAMPLED_NEGATIVES;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`'count' passed to '${fn}' must be a positive integer, got ${String(count)}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) {
    throw new Error(`'seed' passed to '${fn}' must be an integer, got ${String(seed)}`);
  }
  const { numUsers, numItems, items, offsets } = split;
  const negatives = new Int32Array(numUsers * count);
  // seen[item] === u marks user u's items (and negatives drawn so far) without clearing per user.
  const seen = new Int32Array(numItems + 1);
  for (let u = 1; u <= numUsers; u++) {
    let distinct = 0;
    for (let i = offsets[u - 1]; i < offsets[u]; i++) {
      if (seen[items[i]] !== u) { seen[items[i]] = u; distinct++; }
    }
    if (numItems - distinct < count) {
      throw new Error(`'${fn}' cannot draw ${count} negatives for user ${u}: they interacted with ` +
        `${distinct} of the ${numItems} items, leaving ${numItems - distinct}`);
    }
    const next = mulberry32(userSeed(seed, part, u));
    const base = (u - 1) * count;
    for (let k = 0; k < count;) {
      const c = 1 + Math.floor(next() * numItems);
      if (seen[c] === u) continue;
      seen[c] = u;
      negatives[base + k++] = c;
    }
  }
  return { part, count, seed, numUsers, negatives };
}
