import * as tfl from '@tensorflow/tfjs-layers';

/** A tfjs-layers weight initializer. */
export type Initializer = ReturnType<typeof tfl.initializers.zeros>;

const BY_NAME: Record<string, () => Initializer> = {
  zeros: () => tfl.initializers.zeros(),
  ones: () => tfl.initializers.ones(),
  glorotUniform: () => tfl.initializers.glorotUniform({}),
  glorotNormal: () => tfl.initializers.glorotNormal({}),
  heUniform: () => tfl.initializers.heUniform({}),
  heNormal: () => tfl.initializers.heNormal({}),
  leCunUniform: () => tfl.initializers.leCunUniform({}),
  leCunNormal: () => tfl.initializers.leCunNormal({}),
};

/** Resolves a weight initializer by its tfjs-layers camelCase name. */
export function initializerByName(name: string, caller: string): Initializer {
  const make = BY_NAME[name];
  if (make === undefined) {
    throw new Error(`unknown initializer '${name}' passed to '${caller}'; known: ` +
      Object.keys(BY_NAME).join(', '));
  }
  return make();
}
