import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { duetWrap, splitDuet, useBackend } from 'duet-tf';

await useBackend('auto'); // tfjs-node if installed, else wasm, else cpu

// Any tfjs-layers model: here a scorer over 8 features.
const features = tfl.input({ shape: [8] });
const hidden = tfl.layers.dense({ units: 16, activation: 'relu' }).apply(features);
const score = tfl.layers.dense({ units: 1, activation: 'sigmoid' }).apply(hidden);
const model = tfl.model({ inputs: features, outputs: score as tfl.SymbolicTensor });

// Generate its Dense layers per user from their last 20 item ids (0 = padding).
const duet = duetWrap(model, { condition: { length: 20 }, generator: { vocabSize: 1000 } });
duet.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
const history = tf.randomUniform([64, 20], 0, 1000, 'int32');
await duet.fit([tf.randomNormal([64, 8]), history], tf.round(tf.randomUniform([64, 1])));

// Cloud: history → parameters. Device: features + parameters → score.
const { generator, device } = splitDuet(duet);
const params = generator.predict(tf.slice(history, 0, 1)) as tf.Tensor;
console.log((device.predict([tf.randomNormal([1, 8]), params]) as tf.Tensor).dataSync());
