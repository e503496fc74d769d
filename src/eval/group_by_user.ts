// Groups rows by user whatever their order (the reference code assumed contiguous users). Internal.
import type { UserId } from './validate';

/** One user's rows, ranked. */
export interface UserRows {
  /** The user id. */
  readonly user: UserId;
  /**
   * Row indices ranked by score descending; among equal scores negatives come before positives
   * (ties never count in the model's favour), then input order.
   */
  readonly ranked: number[];
  /** How many of the rows have label 1. */
  readonly positives: number;
}

/**
 * Orders row indices by score descending. Ties put label-0 rows first (pessimistic: a model that
 * scores a positive no higher than a negative gets no credit for it, so a constant scorer gets
 * HR@K = K / rows rather than 1), then ascending index: a total, deterministic order.
 */
export function byScoreDesc(scores: ArrayLike<number>, labels: ArrayLike<number>):
    (a: number, b: number) => number {
  return (a, b) => {
    const sa = scores[a];
    const sb = scores[b];
    if (sa !== sb) return sa > sb ? -1 : 1;
    return labels[a] - labels[b] || a - b;
  };
}

/** Canonical user order (numbers ascending, then strings by code unit) so means do not depend on row order. */
export function compareUsers(a: UserId, b: UserId): number {
  if (typeof a === 'number') {
    if (typeof b !== 'number') return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Groups validated rows by user in O(n log n): users in canonical order, each user's rows ranked by
 * score. Summing per-user values in this order makes results bit-identical under any row shuffle.
 */
export function rankRowsByUser(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  users: ArrayLike<UserId>,
): UserRows[] {
  const byUser = new Map<UserId, number[]>();
  for (let i = 0; i < scores.length; i++) {
    const u = users[i];
    const rows = byUser.get(u);
    if (rows === undefined) byUser.set(u, [i]);
    else rows.push(i);
  }
  const order = byScoreDesc(scores, labels);
  return [...byUser.keys()].sort(compareUsers).map((user) => {
    const ranked = byUser.get(user)!.sort(order);
    let positives = 0;
    for (const i of ranked) positives += labels[i];
    return { user, ranked, positives };
  });
}
