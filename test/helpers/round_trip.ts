import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Saves a model to memory and loads it back through the same path `model.save` / 
 * `tf.loadLayersModel` use (config keys snake_cased and back, JSON text in between).
 */
export async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const artifacts = saved as tf.io.ModelArtifacts;
  const topology = JSON.parse(JSON.stringify(artifacts.modelTopology));
  return tfl.loadLayersModel(tf.io.fromMemory({ ...artifacts, modelTopology: topology }));
}

/** Largest absolute difference between two tensors' values. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
