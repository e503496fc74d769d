/**
 * `checkFiniteWeights`: refuses a model whose weights hold NaN or ±Infinity (a diverged training
 * run, a corrupt file), naming the layer, before it serves a single request.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Throws naming the first layer and weight holding a NaN or infinite value (and how many there
 * are); returns quietly when every weight is finite. Reads every weight once.
 *
 * @example
 * ```ts
 * const model = await loadDuet('./models/duet');
 * checkFiniteWeights(model, 'createServer'); // throws on a model whose training diverged
 * ```
 */
export function checkFiniteWeights(model: tfl.LayersModel, caller: string): void {
  for (const layer of model.layers) {
    for (const weight of layer.weights) {
      const values = weight.read().dataSync();
      let bad = 0;
      let first = -1;
      for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        if (v - v !== 0) { // NaN or ±Infinity, without a call per value
          if (first < 0) first = i;
          bad++;
        }
      }
      if (bad > 0) {
        throw new Error(`'${caller}': layer '${layer.name}' of model '${model.name}' has ` +
          `non-finite weights: '${weight.originalName ?? weight.name}' holds ${bad} of ` +
          `${values.length} values NaN or infinite (the first, value ${first}, is ` +
          `${String(values[first])}); retrain or restore a good copy of the model`);
      }
    }
  }
}
