/**
 * `generatorFingerprint`: a 64-bit identity of a generator, stamped into every payload so a
 * device never applies parameters to a model they were not made for.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { findParameterGenerator } from './find_generator';
import { Fnv1a64 } from './fnv1a64';

/**
 * Fingerprint of a generator model: 64-bit FNV-1a, as 16 hex digits, over
 * 1. the tag `duet-tf/fingerprint/1`;
 * 2. its {@link ParameterGenerator}'s structure: input kind, vocabulary size, embedding and
 *    condition sizes, encoder, decoder, rank, low-rank core, stable-weights and normalisation
 *    flags (not the seed);
 * 3. the parameter layout: each generated layer's name, input size, output size and bias flag;
 * 4. the model's input shapes (batch dimension left out);
 * 5. every weight of the model, in `model.weights` order: dtype, shape and the raw bytes of its
 *    values (float32 in the platform's byte order, little-endian on every current JS engine).
 *
 * Weight names are left out (tfjs renames variables when a model is loaded twice in one process),
 * so the fingerprint survives saving and loading, and changes with any retraining.
 * Computing it reads every weight once (`dataSync`): a few milliseconds per megabyte.
 *
 * @example
 * ```ts
 * const { generator } = splitDuet(duetModel);
 * const fingerprint = generatorFingerprint(generator); // e.g. '3f09c1d2a4b5e6f7'
 * ```
 */
export function generatorFingerprint(generator: tfl.LayersModel): string {
  const layer = findParameterGenerator(generator, 'generatorFingerprint');
  const o = layer.options;
  const h = new Fnv1a64();
  h.updateText('duet-tf/fingerprint/1');
  h.updateText(JSON.stringify([
    o.input, o.vocabSize, o.embeddingDim, o.conditionDim, o.encoder, o.decoder, o.rank,
    o.lowrankCore, o.stableWeights, o.normalizeCondition,
  ]));
  h.updateText(JSON.stringify(layer.slices.map((s) => [s.name, s.inputDim, s.outputDim, s.useBias])));
  h.updateText(JSON.stringify(generator.inputs.map((t) => t.shape.slice(1))));
  for (const weight of generator.weights) {
    h.updateText(`${weight.dtype}:${weight.shape.join('x')}`);
    const values = weight.read().dataSync();
    h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return h.hex();
}
