import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { EncoderKind } from '../../src/layers/generator/encoders';
import { duetWrap } from '../../src/wrap/duet_wrap';
import { splitDuet } from '../../src/wrap/split_duet';

export const LENGTH = 5;
export const VOCAB = 30;
export const FEATURES = 6;

/** A tiny DUET model: 6 features → dense 8 (relu) → dense 1 (sigmoid), both generated. */
export function tinyDuet({ seed = 1, residual = true, encoder = 'mean' as EncoderKind } = {}) {
  const x = tfl.input({ shape: [FEATURES], name: 'features' });
  const h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden',
    kernelInitializer: tfl.initializers.glorotUniform({ seed }) }).apply(x);
  const y = tfl.layers.dense({ units: 1, activation: 'sigmoid', name: 'out',
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tfl.SymbolicTensor;
  const base = tfl.model({ inputs: x, outputs: y, name: `tiny${seed}` });
  const duet = duetWrap(base, {
    condition: { length: LENGTH }, residual,
    generator: { vocabSize: VOCAB, init: 'glorot', encoder, embeddingDim: 8, seed },
  });
  return { duet, ...splitDuet(duet) };
}

/** Right-pads (or keeps the last LENGTH of) a sequence, as the service does. */
export function padded(ids: readonly number[]): number[] {
  const last = ids.slice(-LENGTH);
  return [...last, ...new Array(LENGTH - last.length).fill(0)];
}

/** What `generator.predict` gives for one sequence. */
export function direct(generator: tfl.LayersModel, ids: readonly number[]): Float32Array {
  const out = tf.tidy(() => generator.predict(tf.tensor2d([padded(ids)])) as tf.Tensor);
  const values = Float32Array.from(out.dataSync());
  out.dispose();
  return values;
}

/** Largest absolute difference of two arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
