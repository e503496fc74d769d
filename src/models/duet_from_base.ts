/**
 * `duetFromBase`: the paper's flow, train the base model first, then make and train its DUET
 * variant starting from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { wrapBase } from './common/duet';
import {
  type CreatedModel, type CreateModelOptions, resolveModelOptions,
} from './create_model';

const NAME = 'duetFromBase';

/**
 * Makes the DUET variant of an already built (possibly trained) base model with `duetWrap`: the
 * layers `config.dynamicLayers` (by default the user tower, or DIN's MLP hidden layers) become
 * dynamic, generated from the `click` input by a `ParameterGenerator` set up from
 * `config.generator`. Every other weight is copied; the base model is left untouched. With the
 * default generator `init: 'zero'` (and `residual: true`) the DUET model starts out predicting
 * exactly like the base model.
 *
 * `config` is the base model's resolved config (or the options it was built from), possibly
 * with DUET-side changes (`generator`, `dynamicLayers`, `residual`); the returned config has
 * `variant: 'duet'`.
 *
 * @example
 * ```ts
 * const { model: base, config } = createModel({ model: 'gru4rec', numItems: 1000 });
 * // ... base.fit(...)
 * const { model: duet } = duetFromBase(base, { ...config, generator: { encoder: 'mean' } });
 * // ... duet.fit(...)
 * ```
 */
export function duetFromBase(baseModel: tfl.LayersModel, config: CreateModelOptions):
    CreatedModel {
  const resolved = resolveModelOptions({ ...config, variant: 'duet' } as CreateModelOptions, NAME);
  // In a tidy: the generator's build temporaries are freed, its weights (variables) stay.
  let model: tfl.LayersModel | null = null;
  tf.tidy(() => {
    model = wrapBase(baseModel, resolved, NAME);
  });
  return { model: model as unknown as tfl.LayersModel, config: resolved };
}
