/**
 * DIN (Zhou et al., 2018) as configured in the DUET paper: target attention over the click
 * sequence, then an MLP scoring the target against the attended interest.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { type AttentionNormalization, targetAttention } from '../../layers/target_attention';
import { addItemBias, dense, modelStem, towerNames } from '../common/blocks';
import { modelForVariant } from '../common/duet';
import {
  type CommonConfig, type CommonModelOptions, type DenseActivation, OptionReader, optionsObject,
} from '../common/options';
import { SeedSequence } from '../common/seed';

type Sym = tfl.SymbolicTensor;

const NAME = 'din';

/**
 * Options of {@link din}. Defaults follow the authors' configuration where they have one.
 *
 * @example
 * ```ts
 * const options: DinOptions = { numItems: 5000, mlpUnits: [80, 40], variant: 'duet' };
 * ```
 */
export interface DinOptions extends CommonModelOptions {
  /** The architecture; accepted so a resolved config can be passed back in. `'din'` only. */
  model?: 'din';
  /** Widths of the scoring MLP's hidden layers (`mlp1..N`). Default `[128, 64]`. */
  mlpUnits?: number[];
  /** Activation of the MLP's hidden layers. Default `'tanh'` (the authors'). */
  mlpActivation?: DenseActivation;
  /** Dropout after each MLP hidden layer, training only. Default 0. */
  dropout?: number;
  /** Hidden widths of the attention unit's scoring MLP (`TargetAttention`). Default `[36]`. */
  attentionUnits?: number[];
  /** Activation of the attention unit's hidden layers. Default `'sigmoid'` (DIN's). */
  attentionActivation?: DenseActivation;
  /**
   * `'softmax'`: attention weights sum to 1 over the valid clicks (as the authors' attention);
   * `'none'`: raw scores, as the DIN paper. Default `'softmax'`.
   */
  attentionNormalize?: AttentionNormalization;
  /** Whether the target embedding passes a `Dense(D, tanh)`, `'targetTransform'`. Default true. */
  targetTransform?: boolean;
  /**
   * Whether the MLP also reads `interest ⊙ target`: input `[interest, target, interest ⊙ target]`
   * (3D wide) rather than `[interest, target]` (2D wide, the authors'). Default true.
   */
  productFeature?: boolean;
}

/**
 * {@link DinOptions} with every default filled in: what `din` built, JSON-ready.
 *
 * @example
 * ```ts
 * const { config } = din({ numItems: 100 });
 * fs.writeFileSync('config.json', JSON.stringify(config)); // din(config) rebuilds it
 * ```
 */
export interface DinConfig extends CommonConfig {
  model: 'din';
  mlpUnits: number[];
  mlpActivation: DenseActivation;
  dropout: number;
  attentionUnits: number[];
  attentionActivation: DenseActivation;
  attentionNormalize: AttentionNormalization;
  targetTransform: boolean;
  productFeature: boolean;
}

const KEYS = ['mlpUnits', 'mlpActivation', 'dropout', 'attentionUnits', 'attentionActivation',
  'attentionNormalize', 'targetTransform', 'productFeature'];

/**
 * Resolves {@link DinOptions}: fills every default, checks every option.
 *
 * @example
 * ```ts
 * resolveDinOptions({ numItems: 100 }).dynamicLayers; // ['mlp1', 'mlp2']
 * ```
 */
export function resolveDinOptions(options: DinOptions): DinConfig {
  const read = new OptionReader(NAME, optionsObject(options, NAME));
  const mlpUnits = read.intArray('mlpUnits', [128, 64]);
  // Measured on MovieLens and Beauty (docs/RESULTS.md): DIN's generated layers score the target
  // directly, and without these two the shared layers learned less of what all users share.
  const common = read.common(NAME, towerNames('mlp', mlpUnits.length), KEYS,
    { decoder: 'lowrank', conditionDropout: 0.5, detachCondition: true });
  return {
    ...common,
    model: NAME,
    mlpUnits,
    mlpActivation: read.activation('mlpActivation', 'tanh'),
    dropout: read.rate('dropout', 0),
    attentionUnits: read.intArray('attentionUnits', [36]),
    attentionActivation: read.activation('attentionActivation', 'sigmoid'),
    attentionNormalize: read.oneOf('attentionNormalize', ['softmax', 'none'] as const, 'softmax'),
    targetTransform: read.bool('targetTransform', true),
    productFeature: read.bool('productFeature', true),
  };
}

/** The base DIN graph for a resolved config. */
function buildBase(config: DinConfig): tfl.LayersModel {
  const seeds = new SeedSequence(config.seed);
  const stem = modelStem(config.numItems, config.clickLength, config.dim, seeds);
  let target = stem.targetEmbedding;
  if (config.targetTransform) {
    target = dense(config.dim, 'tanh', 'targetTransform', seeds).apply(target) as Sym;
  }
  let history = stem.clickEmbeddings;
  if (config.sequenceTransform) {
    history = dense(config.dim, 'tanh', 'sequenceTransform', seeds).apply(history) as Sym;
  }
  const attention = targetAttention({
    hiddenUnits: config.attentionUnits, activation: config.attentionActivation,
    normalize: config.attentionNormalize, name: 'targetAttention',
  });
  const interest = attention.apply([history, target, stem.mask]) as Sym;
  seeds.reseed(attention);
  const parts = [interest, target];
  if (config.productFeature) {
    const product = tfl.layers.multiply({ name: 'interestTimesTarget' });
    parts.push(product.apply([interest, target]) as Sym);
  }
  let h = tfl.layers.concatenate({ axis: -1, name: 'mlpInput' }).apply(parts) as Sym;
  config.mlpUnits.forEach((units, i) => {
    h = dense(units, config.mlpActivation, `mlp${i + 1}`, seeds).apply(h) as Sym;
    if (config.dropout > 0) {
      h = tfl.layers.dropout({ rate: config.dropout, name: `mlpDropout${i + 1}` }).apply(h) as Sym;
    }
  });
  const logit = dense(1, 'linear', 'output', seeds).apply(h) as Sym;
  const score = config.itemBias ? addItemBias(logit, stem.target, config.numItems) : logit;
  return tfl.model({ inputs: [stem.target, stem.click], outputs: score, name: NAME });
}

/**
 * Builds DIN for DUET-style ranking: inputs `target [batch, 1]` and `click [batch, clickLength]`
 * (item ids, 0 = padding on either side), output one logit `[batch, 1]`.
 *
 * Graph: `itemEmbedding` (shared by history and target) → `targetTransform` and
 * `sequenceTransform` (`Dense(D, tanh)` each, the authors') → `targetAttention` (DIN's activation
 * unit over the valid clicks) gives the interest → `mlpInput` = `[interest, target,
 * interest ⊙ target]` → `mlp1..N` → `output` (`Dense(1)`, the logit).
 *
 * DIN is not a two-tower model: target and history meet inside the attention, so there is no
 * target-free user vector to dot with a target vector. The scoring MLP plays the user tower's
 * part instead (the layers after the sequence encoder that turn the user's evidence into a
 * score), so the `'duet'` variant generates its hidden layers `mlp1..N` from `click` (see
 * {@link duetFromBase}); `output` stays static unless listed in `dynamicLayers`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { din } from 'duet-tf';
 *
 * const { model } = din({ numItems: 1000, clickLength: 30, variant: 'duet' });
 * const logits = model.predict([tf.tensor2d([[5]]), tf.zeros([1, 30])]) as tf.Tensor; // [1, 1]
 * ```
 */
export function din(options: DinOptions): { model: tfl.LayersModel; config: DinConfig } {
  const config = resolveDinOptions(options);
  return { model: modelForVariant(() => buildBase(config), config, NAME), config };
}
