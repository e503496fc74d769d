import { checkLabels, checkScores } from './validate';

/**
 * Probabilities are clipped to [LOGLOSS_EPSILON, 1 - LOGLOSS_EPSILON] so one confident miss
 * costs at most −ln(1e-7) ≈ 16.12.
 *
 * @example
 * ```ts
 * logloss([0], [1]); // -Math.log(LOGLOSS_EPSILON) ≈ 16.118
 * ```
 */
export const LOGLOSS_EPSILON = 1e-7;

/** Options of {@link logloss}. */
export interface LoglossOptions {
  /** Treat the inputs as logits and apply the sigmoid first. Default `false` (inputs are probabilities in [0, 1]). */
  fromLogits?: boolean;
}

/** A sigmoid that neither overflows nor loses the small tail. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Mean binary cross-entropy of validated rows; `fn` names the caller in errors. Internal. */
export function meanBce(
  fn: string,
  name: string,
  values: ArrayLike<number>,
  labels: ArrayLike<number>,
  fromLogits: boolean,
): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    let p = values[i];
    if (fromLogits) {
      p = sigmoid(p);
    } else if (!(p >= 0 && p <= 1)) {
      throw new Error(
        `'${name}' passed to '${fn}' must be probabilities in [0, 1] (pass { fromLogits: true } for logits), got ${p} at index ${i}`,
      );
    }
    p = Math.min(Math.max(p, LOGLOSS_EPSILON), 1 - LOGLOSS_EPSILON);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / values.length;
}

/**
 * Log loss: the mean binary cross-entropy −[y·ln p + (1−y)·ln(1−p)] over all rows.
 *
 * Each probability (after the sigmoid when `fromLogits`) is clipped to
 * [{@link LOGLOSS_EPSILON}, 1 − LOGLOSS_EPSILON] with ε = 1e-7, so a row costs at most ≈ 16.118 and
 * saturated logits (±1000, ±Infinity) give finite results. Without `fromLogits` a value outside
 * [0, 1] is an error (it is most likely a logit).
 *
 * @param probsOrLogits One probability (or logit with `fromLogits`) per row; NaN is rejected.
 * @param labels One label per row, each exactly 0 or 1.
 * @param options See {@link LoglossOptions}.
 * @returns The mean loss (≥ 0).
 * @throws When lengths differ, a label is not 0/1, a value is NaN or not a probability, or the input is empty.
 * @example
 * ```ts
 * logloss([0.9, 0.2], [1, 0]);                                 // (−ln 0.9 − ln 0.8) / 2 ≈ 0.16425
 * logloss([0, Math.log(4)], [1, 0], { fromLogits: true });     // (ln 2 + ln 5) / 2 ≈ 1.15129
 * ```
 */
export function logloss(
  probsOrLogits: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: LoglossOptions = {},
): number {
  checkScores('logloss', 'probsOrLogits', probsOrLogits);
  checkLabels('logloss', labels, probsOrLogits.length, 'probsOrLogits');
  return meanBce('logloss', 'probsOrLogits', probsOrLogits, labels, options.fromLogits ?? false);
}
