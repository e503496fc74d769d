/**
 * SASRec (Kang & McAuley, 2018) as configured in the DUET paper: a self-attentive encoder over the
 * click sequence, a user tower on its last valid state, a target tower, and a dot-product score.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { POSITION_ORIGINS, type PositionOrigin, positionEmbedding } from '../../layers/position_embedding';
import { sequencePooling } from '../../layers/sequence_pooling';
import { type NormPlacement, transformerBlock } from '../../layers/transformer_block';
import { defaultUserDynamic, dense, modelStem, twoTowerScore } from '../common/blocks';
import { modelForVariant } from '../common/duet';
import {
  type CommonConfig, type CommonModelOptions, OptionReader, optionsObject, TOWER_OPTION_KEYS,
  type TowerConfig, type TowerOptions,
} from '../common/options';
import { SeedSequence } from '../common/seed';

type Sym = tfl.SymbolicTensor;

const NAME = 'sasrec';

/**
 * Options of {@link sasrec}. Defaults follow the authors' configuration.
 *
 * @example
 * ```ts
 * const options: SasrecOptions = { numItems: 5000, variant: 'duet', numBlocks: 2, dropout: 0.1 };
 * ```
 */
export interface SasrecOptions extends CommonModelOptions, TowerOptions {
  /** The architecture; accepted so a resolved config can be passed back in. `'sasrec'` only. */
  model?: 'sasrec';
  /** Attention heads per block; must divide `dim`. Default 4. */
  numHeads?: number;
  /** Number of Transformer encoder blocks (`transformer1..N`). Default 1. */
  numBlocks?: number;
  /** Feed-forward hidden size as a multiple of `dim`. Default 4. */
  ffnMultiplier?: number;
  /**
   * LayerNorm placement: `'post'` (the authors', PyTorch's default encoder layer) or `'pre'`
   * (SASRec's own; then a final LayerNorm `finalNorm` follows the last block). Default `'post'`.
   */
  norm?: NormPlacement;
  /**
   * Causal attention (position i sees j <= i), as SASRec. With one block it cannot change the
   * score: the user state is the last valid position, which sees every valid position either way.
   * Default true.
   */
  causal?: boolean;
  /** Dropout on sequence embeddings, attention probabilities and residual branches. Default 0. */
  dropout?: number;
  /**
   * Where `positionEmbedding` counts positions from (see `PositionEmbedding`'s `origin`):
   * `'start'` (the oldest item of the window is position 0, the authors') or `'end'` (the newest
   * item always at position `clickLength − 1`, as SASRec's left padding puts it). With `'end'`
   * the user vector at a position of a training row depends on how many items follow it in the
   * row (not on which), as in SASRec's own training. Default `'start'`.
   */
  positionOrigin?: PositionOrigin;
  /**
   * Multiply the click embeddings by √dim before the positions are added, as SASRec does (the
   * item embeddings start at ±0.05, several times smaller than the position table's Glorot rows).
   * The target side is not scaled. Default false.
   */
  scaleEmbeddings?: boolean;
}

/**
 * {@link SasrecOptions} with every default filled in: what `sasrec` built, JSON-ready.
 *
 * @example
 * ```ts
 * const { config } = sasrec({ numItems: 100 });
 * fs.writeFileSync('config.json', JSON.stringify(config)); // sasrec(config) rebuilds it
 * ```
 */
export interface SasrecConfig extends CommonConfig, TowerConfig {
  model: 'sasrec';
  numHeads: number;
  numBlocks: number;
  ffnMultiplier: number;
  norm: NormPlacement;
  causal: boolean;
  dropout: number;
  positionOrigin: PositionOrigin;
  scaleEmbeddings: boolean;
}

const KEYS = [...TOWER_OPTION_KEYS, 'numHeads', 'numBlocks', 'ffnMultiplier', 'norm', 'causal',
  'dropout', 'positionOrigin', 'scaleEmbeddings'];

/**
 * Resolves {@link SasrecOptions}: fills every default, checks every option.
 *
 * @example
 * ```ts
 * resolveSasrecOptions({ numItems: 100 }).numHeads; // 4
 * ```
 */
export function resolveSasrecOptions(options: SasrecOptions): SasrecConfig {
  const read = new OptionReader(NAME, optionsObject(options, NAME));
  const towers = read.towers();
  const common = read.common(NAME, defaultUserDynamic(towers), KEYS);
  const numHeads = read.int('numHeads', 4);
  if (common.dim % numHeads !== 0) {
    throw new Error(`'numHeads' passed to '${NAME}' must divide dim = ${common.dim}, got ` +
      String(numHeads));
  }
  return {
    ...common,
    model: NAME,
    ...towers,
    numHeads,
    numBlocks: read.int('numBlocks', 1),
    ffnMultiplier: read.int('ffnMultiplier', 4),
    norm: read.oneOf('norm', ['post', 'pre'] as const, 'post'),
    causal: read.bool('causal', true),
    dropout: read.rate('dropout', 0),
    positionOrigin: read.oneOf('positionOrigin', POSITION_ORIGINS, 'start'),
    scaleEmbeddings: read.bool('scaleEmbeddings', false),
  };
}

/** The base SASRec graph for a resolved config. */
function buildBase(config: SasrecConfig): tfl.LayersModel {
  const seeds = new SeedSequence(config.seed);
  const stem = modelStem(config.numItems, config.clickLength, config.dim, seeds);
  const { mask } = stem;
  // Positions count in the padded array (or back from the newest item); padded positions come out zero.
  const positions = positionEmbedding({
    maxLength: config.clickLength, origin: config.positionOrigin,
    scale: config.scaleEmbeddings ? Math.sqrt(config.dim) : 1, name: 'positionEmbedding',
  });
  let h = positions.apply([stem.clickEmbeddings, mask]) as Sym;
  seeds.reseed(positions);
  if (config.sequenceTransform) {
    h = dense(config.dim, 'tanh', 'sequenceTransform', seeds).apply(h) as Sym;
  }
  if (config.dropout > 0) {
    h = tfl.layers.dropout({ rate: config.dropout, name: 'sequenceDropout' }).apply(h) as Sym;
  }
  for (let b = 1; b <= config.numBlocks; b++) {
    // The padding mask is always on (the authors' encoder attends to padding too).
    const block = transformerBlock({
      numHeads: config.numHeads, ffnMultiplier: config.ffnMultiplier, norm: config.norm,
      causal: config.causal, dropout: config.dropout, name: `transformer${b}`,
    });
    h = block.apply([h, mask]) as Sym;
    seeds.reseed(block);
  }
  let state = sequencePooling({ mode: 'last', name: 'userState' }).apply([h, mask]) as Sym;
  if (config.norm === 'pre') {
    state = tfl.layers.layerNormalization({ epsilon: 1e-6, name: 'finalNorm' }).apply(state) as Sym;
  }
  const score = twoTowerScore(state, stem.targetEmbedding, config.dim, config, seeds,
    config.itemBias ? { target: stem.target, numItems: config.numItems } : undefined);
  return tfl.model({ inputs: [stem.target, stem.click], outputs: score, name: NAME });
}

/**
 * Builds SASRec for DUET-style ranking: inputs `target [batch, 1]` and `click [batch, clickLength]`
 * (item ids, 0 = padding on either side), output one logit `[batch, 1]`.
 *
 * Graph: `itemEmbedding` (shared with the target) + `positionEmbedding` → `sequenceTransform`
 * (`Dense(D, tanh)`) → `transformer1..N` (padding mask always, causal by default) → `userState`
 * (the state at the last valid position) → `userTower1..N`; the target embedding →
 * `targetTower1..N`; `score` = ⟨user, target⟩. The `'duet'` variant generates `userTower1..N`
 * from `click` (see {@link duetFromBase}).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { sasrec } from 'duet-tf';
 *
 * const { model, config } = sasrec({ numItems: 1000, clickLength: 30, variant: 'duet', seed: 1 });
 * const logits = model.predict([tf.tensor2d([[5]]), tf.zeros([1, 30])]) as tf.Tensor; // [1, 1]
 * ```
 */
export function sasrec(options: SasrecOptions): { model: tfl.LayersModel; config: SasrecConfig } {
  const config = resolveSasrecOptions(options);
  return { model: modelForVariant(() => buildBase(config), config, NAME), config };
}
