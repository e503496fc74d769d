/**
 * `duetFromBase`: the paper's flow, train the base model first, then make and train its DUET
 * variant starting from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

import { ParameterGenerator } from '../layers/parameter_generator';
import { wrapBase } from './common/duet';
import { OptionReader, USER_ADAPTER } from './common/options';
import {
  createModel, type CreatedModel, type CreateModelOptions, resolveModelOptions, type ResolvedConfig,
} from './create_model';

const NAME = 'duetFromBase';

/**
 * Options of {@link duetFromBase}.
 *
 * @example
 * ```ts
 * const options: DuetFromBaseOptions = { freezeStatic: true };
 * ```
 */
export interface DuetFromBaseOptions {
  /**
   * Mark every layer but the `ParameterGenerator` not trainable (`layer.trainable = false`), so
   * training the DUET model trains the generator alone and the shared weights stay the base's:
   * what the model learns then is the per-user part only, and the base cannot drift past its
   * best epoch. Default false (everything trains).
   */
  freezeStatic?: boolean;
}

/**
 * Makes the DUET variant of an already built (possibly trained) base model with `duetWrap`: the
 * layers `config.dynamicLayers` (by default the user tower, or DIN's MLP hidden layers, or
 * `userAdapter`) become dynamic, generated from the `click` input by a `ParameterGenerator` set
 * up from `config.generator`. Every other weight is copied; the base model is left untouched.
 * With the default generator `init: 'zero'` (and `residual: true`) the DUET model starts out
 * predicting exactly like the base model.
 *
 * A two-tower base without a `userAdapter` layer gains one when `config.userAdapter` is true
 * (the base architecture is rebuilt with it, starting as the identity, and the base's weights
 * copied in by layer name): the way to give a DUET layer to a base with `towerLayers: 0`.
 *
 * `config` is the base model's resolved config (or the options it was built from), possibly
 * with DUET-side changes (`generator`, `dynamicLayers`, `residual`, `userAdapter`); the returned
 * config has `variant: 'duet'`.
 *
 * @example
 * ```ts
 * const { model: base, config } = createModel({ model: 'gru4rec', numItems: 1000 });
 * // ... base.fit(...)
 * const { model: duet } = duetFromBase(base, { ...config, generator: { encoder: 'mean' } });
 * // ... duet.fit(...)
 * const { model: adapted } = duetFromBase(base, { ...config, userAdapter: true }, { freezeStatic: true });
 * ```
 */
export function duetFromBase(baseModel: tfl.LayersModel, config: CreateModelOptions,
    options: DuetFromBaseOptions = {}): CreatedModel {
  new OptionReader(NAME, options as Record<string, unknown>).checkKeys(['freezeStatic']);
  const given = { ...config, variant: 'duet' } as Record<string, unknown>;
  // A base without towers records no dynamic layers; with userAdapter its default applies.
  if (given.userAdapter === true && Array.isArray(given.dynamicLayers) && given.dynamicLayers.length === 0) {
    delete given.dynamicLayers;
  }
  const resolved = resolveModelOptions(given as unknown as CreateModelOptions, NAME);
  const addAdapter = 'userAdapter' in resolved && resolved.userAdapter &&
    !baseModel.layers.some((l) => l.name === USER_ADAPTER);
  // In a tidy: the generator's build temporaries are freed, its weights (variables) stay.
  let model: tfl.LayersModel | null = null;
  tf.tidy(() => {
    if (!addAdapter) {
      model = wrapBase(baseModel, resolved, NAME);
      return;
    }
    const adapted = withAdapter(baseModel, resolved);
    model = wrapBase(adapted, resolved, NAME);
    for (const weight of adapted.weights) weight.dispose();
  });
  const built = model as unknown as tfl.LayersModel;
  if (options.freezeStatic === true) {
    for (const layer of built.layers) {
      if (!(layer instanceof ParameterGenerator)) layer.trainable = false;
    }
  }
  return { model: built, config: resolved };
}

/** The base architecture of `config` (with its identity `userAdapter`) holding `base`'s weights. */
function withAdapter(base: tfl.LayersModel, config: ResolvedConfig): tfl.LayersModel {
  const { model: fresh } = createModel({ ...config, variant: 'base' } as CreateModelOptions);
  const byName = new Map(fresh.layers.map((l) => [l.name, l]));
  for (const layer of base.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const target = byName.get(layer.name);
    const shapes = (ws: tf.Tensor[]) => JSON.stringify(ws.map((w) => w.shape));
    if (target === undefined || shapes(target.getWeights()) !== shapes(weights)) {
      for (const w of fresh.weights) w.dispose();
      throw new Error(`'baseModel' passed to '${NAME}' does not match the config's architecture: its ` +
        `layer '${layer.name}' (weights ${shapes(weights)}) is ` +
        (target === undefined ? 'not in it' : `${shapes(target.getWeights())} there`));
    }
    target.setWeights(weights);
  }
  const baseNames = new Set(base.layers.map((l) => l.name));
  const extra = fresh.layers.find((l) => l.name !== USER_ADAPTER && l.getWeights().length > 0 && !baseNames.has(l.name));
  if (extra !== undefined) {
    for (const w of fresh.weights) w.dispose();
    throw new Error(`'baseModel' passed to '${NAME}' does not match the config's architecture: it has no ` +
      `layer '${extra.name}'`);
  }
  return fresh;
}
