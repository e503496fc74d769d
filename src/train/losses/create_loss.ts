/**
 * `createSequenceLoss`: a sequence-level loss from its name and plain options, so the same loss
 * can be rebuilt anywhere from JSON (a worker replica, a saved run). Browser-safe.
 */
import { bceLoss } from './bce';
import { crossEntropyLoss } from './cross_entropy';
import { sampledSoftmaxLoss, type SampledSoftmaxOptions } from './sampled_softmax';
import type { SequenceLoss, SequenceLossName } from './types';

/**
 * The names {@link createSequenceLoss} knows.
 *
 * @example
 * ```ts
 * SEQUENCE_LOSSES.includes('ce'); // true
 * ```
 */
export const SEQUENCE_LOSSES: readonly SequenceLossName[] = ['ce', 'sampled', 'bce'];

/**
 * Builds a sequence loss by name: `'ce'` (full softmax), `'sampled'` (sampled softmax, options
 * `{ negatives, alpha }`) or `'bce'` (one negative per position).
 *
 * @param name The loss.
 * @param options Its options (plain JSON); unknown keys are refused.
 * @example
 * ```ts
 * const loss = createSequenceLoss('sampled', { negatives: 512 });
 * createSequenceLoss(loss.name, loss.options); // the same loss again
 * ```
 */
export function createSequenceLoss(name: SequenceLossName, options: Record<string, unknown> = {}): SequenceLoss {
  switch (name) {
    case 'ce': return crossEntropyLoss(options as Record<string, never>);
    case 'bce': return bceLoss(options as Record<string, never>);
    case 'sampled': return sampledSoftmaxLoss(options as SampledSoftmaxOptions);
    default:
      throw new Error(`'name' passed to 'createSequenceLoss' must be one of ` +
        `${SEQUENCE_LOSSES.map((n) => `'${n}'`).join(', ')}, got ${JSON.stringify(name)}`);
  }
}
