/**
 * DUET from a trained base on a seq-loo-v1 folder (`train --duet-from base`, `train --from-base
 * DIR`, `compare --duet-from base`): the base's architecture kept, the DUET side added with
 * `duetFromBase` so the DUET model starts exactly as the base, and its training validated from
 * epoch 0 (the base itself), so it never ends below the base on validation.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import type { SeqLooSplit } from '../../data/protocols/seq_loo';
import type { CreateModelOptions, ResolvedConfig } from '../../models/create_model';
import { duetFromBase } from '../../models/duet_from_base';
import { UsageError } from '../args';

/**
 * The DUET side added to a trained seq-loo-v1 base, per architecture, under `--model-options`
 * (which wins). SASRec's base has no towers (`towerLayers: 0`), so it gains `userAdapter`, an
 * identity-initialised linear layer on the encoder state, and that is what the generator
 * generates (reading `positionEmbedding`'s output through a causal GRU, as from scratch).
 * GRU4Rec's base keeps its towers and has `userTower1` generated.
 *
 * @example
 * ```ts
 * LOO_DUET_FROM_BASE_DEFAULTS.sasrec.userAdapter; // true
 * ```
 */
export const LOO_DUET_FROM_BASE_DEFAULTS: Record<'sasrec' | 'gru4rec', Record<string, unknown>> = {
  sasrec: { userAdapter: true, dynamicLayers: ['userAdapter'], generator: { condition: 'positions', encoder: 'gru' } },
  gru4rec: { dynamicLayers: ['userTower1'], generator: { condition: 'history', encoder: 'gru' } },
};

/** The `--model-options` keys that shape the DUET side of a model built from a base. */
const DUET_SIDE = new Set(['generator', 'dynamicLayers', 'residual', 'userAdapter']);

/**
 * `--model-options` split into the base's architecture (`base`) and the DUET side added to it
 * (`duet`: generator, dynamicLayers, residual, userAdapter).
 */
export function splitDuetSide(extra: Record<string, unknown>):
    { base: Record<string, unknown>; duet: Record<string, unknown> } {
  const base: Record<string, unknown> = {};
  const duet: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra)) (DUET_SIDE.has(key) ? duet : base)[key] = value;
  return { base, duet };
}

/**
 * The DUET model built from `base` (a trained seq-loo-v1 base of `baseConfig`), with the
 * from-base defaults and `duetSide` (the DUET-side `--model-options`, see {@link splitDuetSide}).
 */
export function looDuetFromBase(command: string, base: tfl.LayersModel, baseConfig: ResolvedConfig,
    split: SeqLooSplit, duetSide: Record<string, unknown>, freezeStatic: boolean):
    { model: tfl.LayersModel; config: ResolvedConfig } {
  if (baseConfig.model === 'din') {
    throw new UsageError(`${command}: a DIN base does not rank the whole catalogue; use sasrec or gru4rec`);
  }
  if (baseConfig.numItems < split.numItems || baseConfig.clickLength !== split.protocol.max_len) {
    throw new UsageError(`${command}: the base model was built for ${baseConfig.numItems} items and click ` +
      `length ${baseConfig.clickLength}; the folder has ${split.numItems} items and L = ${split.protocol.max_len}`);
  }
  const defaults = LOO_DUET_FROM_BASE_DEFAULTS[baseConfig.model];
  const generator = {
    ...baseConfig.generator, ...(defaults.generator as object), ...(duetSide.generator as object | undefined),
  };
  const options = { ...baseConfig, ...defaults, ...duetSide, generator, variant: 'duet' } as CreateModelOptions;
  try {
    const { model, config } = duetFromBase(base, options, { freezeStatic });
    return { model, config };
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}
