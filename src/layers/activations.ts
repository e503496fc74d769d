import * as tf from '@tensorflow/tfjs-core';

/** Activations a dynamic layer can apply, by their tfjs-layers names. */
export type ActivationName = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'selu' | 'softplus'
  | 'relu6' | 'swish';

const ACTIVATIONS: Record<ActivationName, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  softplus: (x) => tf.softplus(x),
  relu6: (x) => tf.relu6(x),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
};

/** Looks an activation up by name, with an error that lists the known names. */
export function getActivation(name: string, caller: string): (x: tf.Tensor) => tf.Tensor {
  const fn = ACTIVATIONS[name as ActivationName];
  if (fn === undefined) {
    throw new Error(`unknown activation '${name}' passed to '${caller}'; known: ` +
      Object.keys(ACTIVATIONS).join(', '));
  }
  return fn;
}
