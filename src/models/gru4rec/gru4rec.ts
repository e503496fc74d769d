/**
 * GRU4Rec (Hidasi et al., 2016) as configured in the DUET paper: a GRU over the click sequence,
 * a user tower on its last valid state, a target tower, and a dot-product score.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { gru } from '../../layers/gru';
import { defaultUserDynamic, dense, modelStem, twoTowerScore } from '../common/blocks';
import { modelForVariant } from '../common/duet';
import {
  type CommonConfig, type CommonModelOptions, OptionReader, optionsObject, TOWER_OPTION_KEYS,
  type TowerConfig, type TowerOptions,
} from '../common/options';
import { SeedSequence } from '../common/seed';

type Sym = tfl.SymbolicTensor;

const NAME = 'gru4rec';

/**
 * Options of {@link gru4rec}. Defaults follow the authors' configuration.
 *
 * @example
 * ```ts
 * const options: Gru4recOptions = { numItems: 5000, gruUnits: 64, variant: 'duet' };
 * ```
 */
export interface Gru4recOptions extends CommonModelOptions, TowerOptions {
  /** The architecture; accepted so a resolved config can be passed back in. `'gru4rec'` only. */
  model?: 'gru4rec';
  /** Size of the GRU state (the user state fed to `userTower1`). Default: `dim`. */
  gruUnits?: number;
  /** Dropout on the sequence embeddings before the GRU, training only. Default 0. */
  dropout?: number;
}

/**
 * {@link Gru4recOptions} with every default filled in: what `gru4rec` built, JSON-ready.
 *
 * @example
 * ```ts
 * const { config } = gru4rec({ numItems: 100 });
 * fs.writeFileSync('config.json', JSON.stringify(config)); // gru4rec(config) rebuilds it
 * ```
 */
export interface Gru4recConfig extends CommonConfig, TowerConfig {
  model: 'gru4rec';
  gruUnits: number;
  dropout: number;
}

const KEYS = [...TOWER_OPTION_KEYS, 'gruUnits', 'dropout'];

/**
 * Resolves {@link Gru4recOptions}: fills every default, checks every option.
 *
 * @example
 * ```ts
 * resolveGru4recOptions({ numItems: 100, dim: 16 }).gruUnits; // 16
 * ```
 */
export function resolveGru4recOptions(options: Gru4recOptions): Gru4recConfig {
  const read = new OptionReader(NAME, optionsObject(options, NAME));
  const towers = read.towers();
  const common = read.common(NAME, defaultUserDynamic(towers), KEYS);
  const gruUnits = read.int('gruUnits', common.dim);
  if (towers.towerLayers === 0 && gruUnits !== common.dim) {
    throw new Error(`'gruUnits' passed to '${NAME}' must equal dim = ${common.dim} with towerLayers 0 ` +
      `(the GRU state is dotted with the item embedding), got ${gruUnits}`);
  }
  return {
    ...common,
    model: NAME,
    ...towers,
    gruUnits,
    dropout: read.rate('dropout', 0),
  };
}

/** The base GRU4Rec graph for a resolved config. */
function buildBase(config: Gru4recConfig): tfl.LayersModel {
  const seeds = new SeedSequence(config.seed);
  const stem = modelStem(config.numItems, config.clickLength, config.dim, seeds);
  let h = stem.clickEmbeddings;
  if (config.sequenceTransform) {
    h = dense(config.dim, 'tanh', 'sequenceTransform', seeds).apply(h) as Sym;
  }
  if (config.dropout > 0) {
    h = tfl.layers.dropout({ rate: config.dropout, name: 'sequenceDropout' }).apply(h) as Sym;
  }
  // The GRU skips padded steps, so its output is the state after the last valid item.
  const encoder = gru({ units: config.gruUnits, name: 'gru' });
  const state = encoder.apply([h, stem.mask]) as Sym;
  seeds.reseed(encoder);
  const score = twoTowerScore(state, stem.targetEmbedding, config.dim, config, seeds,
    config.itemBias ? { target: stem.target, numItems: config.numItems } : undefined);
  return tfl.model({ inputs: [stem.target, stem.click], outputs: score, name: NAME });
}

/**
 * Builds GRU4Rec for DUET-style ranking: inputs `target [batch, 1]` and
 * `click [batch, clickLength]` (item ids, 0 = padding on either side), output a logit `[batch, 1]`.
 *
 * Graph: `itemEmbedding` (shared with the target) → `sequenceTransform` (`Dense(D, tanh)`) →
 * `gru` (state at the last valid position) → `userTower1..N`; the target embedding →
 * `targetTower1..N`; `score` = ⟨user, target⟩. The `'duet'` variant generates `userTower1..N`
 * from `click` (see {@link duetFromBase}).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { gru4rec } from 'duet-tf';
 *
 * const { model } = gru4rec({ numItems: 1000, clickLength: 30 });
 * const logits = model.predict([tf.tensor2d([[5]]), tf.zeros([1, 30])]) as tf.Tensor; // [1, 1]
 * ```
 */
export function gru4rec(options: Gru4recOptions):
    { model: tfl.LayersModel; config: Gru4recConfig } {
  const config = resolveGru4recOptions(options);
  return { model: modelForVariant(() => buildBase(config), config, NAME), config };
}
