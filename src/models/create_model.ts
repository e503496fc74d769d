/**
 * `createModel`: one entry point for the reference models, by architecture name.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

import { MODEL_KINDS, type ModelKind } from './common/options';
import { din, type DinConfig, type DinOptions, resolveDinOptions } from './din/din';
import {
  gru4rec, type Gru4recConfig, type Gru4recOptions, resolveGru4recOptions,
} from './gru4rec/gru4rec';
import {
  resolveSasrecOptions, sasrec, type SasrecConfig, type SasrecOptions,
} from './sasrec/sasrec';

/**
 * Options of {@link createModel}: `model` picks the architecture, the rest are its options.
 *
 * @example
 * ```ts
 * const options: CreateModelOptions = { model: 'gru4rec', numItems: 5000, variant: 'duet' };
 * ```
 */
export type CreateModelOptions =
  | (SasrecOptions & { model: 'sasrec' })
  | (Gru4recOptions & { model: 'gru4rec' })
  | (DinOptions & { model: 'din' });

/**
 * Every option a model was built with, defaults filled in: JSON-serialisable, and a valid
 * {@link CreateModelOptions} that rebuilds the same architecture.
 *
 * @example
 * ```ts
 * const config: ResolvedConfig = JSON.parse(fs.readFileSync('config.json', 'utf8'));
 * const { model } = createModel(config);
 * ```
 */
export type ResolvedConfig = SasrecConfig | Gru4recConfig | DinConfig;

/**
 * A built model and the resolved options it was built from.
 *
 * @example
 * ```ts
 * const { model, config }: CreatedModel = createModel({ model: 'din', numItems: 100 });
 * ```
 */
export interface CreatedModel {
  /** Inputs `target [batch, 1]`, `click [batch, clickLength]`; output logits `[batch, 1]`. */
  model: tfl.LayersModel;
  /** Every resolved option (save it next to the model). */
  config: ResolvedConfig;
}

function checkKind(options: unknown, caller: string): ModelKind {
  const kind = (options as { model?: unknown } | null | undefined)?.model;
  if (!MODEL_KINDS.includes(kind as ModelKind)) {
    throw new Error(`'model' passed to '${caller}' must be one of ` +
      `${MODEL_KINDS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(kind)}`);
  }
  return kind as ModelKind;
}

/**
 * Resolves {@link CreateModelOptions} without building anything: fills every default and checks
 * every option.
 *
 * @example
 * ```ts
 * resolveModelOptions({ model: 'din', numItems: 100 }).mlpUnits; // [128, 64]
 * ```
 */
export function resolveModelOptions(options: CreateModelOptions, caller = 'resolveModelOptions'):
    ResolvedConfig {
  switch (checkKind(options, caller)) {
    case 'sasrec': return resolveSasrecOptions(options as SasrecOptions);
    case 'gru4rec': return resolveGru4recOptions(options as Gru4recOptions);
    default: return resolveDinOptions(options as DinOptions);
  }
}

/**
 * Builds a reference model of the DUET paper (`'sasrec'`, `'gru4rec'` or `'din'`), base or DUET
 * variant. Every model has inputs `target [batch, 1]` and `click [batch, clickLength]` (item ids,
 * 0 = padding) and outputs one logit per row, `[batch, 1]` (train with BCE on logits).
 * `createModel(config)` with a returned `config` rebuilds the same architecture.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { createModel } from 'duet-tf';
 *
 * const { model, config } = createModel({ model: 'sasrec', variant: 'duet', numItems: 1000 });
 * model.compile({
 *   optimizer: tf.train.adam(1e-3),
 *   loss: (y, logits) => tf.losses.sigmoidCrossEntropy(y, logits),
 * });
 * JSON.stringify(config); // save beside the model
 * ```
 */
export function createModel(options: CreateModelOptions): CreatedModel {
  switch (checkKind(options, 'createModel')) {
    case 'sasrec': return sasrec(options as SasrecOptions);
    case 'gru4rec': return gru4rec(options as Gru4recOptions);
    default: return din(options as DinOptions);
  }
}
