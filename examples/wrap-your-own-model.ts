/**
 * DUET for a model you wrote yourself: a plain TF.js (tfjs-layers) ranking model becomes DUET with
 * `duetWrap` (its last Dense layers generated per user from their recent clicks), is trained on
 * the built-in synthetic data, split into its cloud and device halves, and the device scores
 * candidates with parameters received from the cloud as bytes.
 *
 *   npm run example:wrap
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  decodePayload, duetWrap, encodePayload, evaluateModel, generatorFingerprint, splitDuet,
  synthetic, train, useBackend,
} from 'duet-tf';

const backend = await useBackend('auto');
const { train: trainSet, test, protocol } = synthetic({ users: 1000, items: 400, seed: 0 });
const L = trainSet.clickLength;
console.log(`synthetic data: ${trainSet.size} training rows, ${test.size} test rows; backend ${backend}`);

// 1. Your model: a two-tower scorer. The clicked items' embeddings pass a Dense layer and are
//    averaged into a history vector, two Dense layers make it the user vector, dotted with the
//    candidate's embedding. Inputs named after the data's columns ('target', 'click') so
//    duet-tf's `train` and `evaluateModel` can feed it; one logit out.
function myModel(): tfl.LayersModel {
  const target = tfl.input({ shape: [1], name: 'target' });
  const click = tfl.input({ shape: [L], name: 'click' });
  const items = tfl.layers.embedding({ inputDim: protocol.items + 1, outputDim: 16, name: 'items' });
  const clicked = tfl.layers.dense({ units: 16, activation: 'tanh', name: 'clicked' }).apply(items.apply(click));
  const history = tfl.layers.globalAveragePooling1d({ name: 'history' }).apply(clicked);
  const hidden = tfl.layers.dense({ units: 16, activation: 'tanh', name: 'userHidden' }).apply(history);
  const user = tfl.layers.dense({ units: 16, name: 'user' }).apply(hidden) as tfl.SymbolicTensor;
  const candidate = tfl.layers.flatten().apply(items.apply(target)) as tfl.SymbolicTensor;
  const logit = tfl.layers.dot({ axes: 1, name: 'logit' }).apply([user, candidate]);
  return tfl.model({ inputs: [target, click], outputs: logit as tfl.SymbolicTensor });
}

const options = { epochs: 3, batchSize: 256, learningRate: 3e-3 };
const base = myModel();
await train(base, { train: trainSet }, options);

// 2. DUET: the user tower ('userHidden', 'user') gets per-user weights, generated from the
//    user's clicks as your model embeds them (the output of 'clicked', masked where click is 0).
//    With the defaults the wrapped model starts out predicting exactly like the trained one.
const duet = duetWrap(base, {
  condition: { layer: 'clicked', mask: 'click' },
  layers: ['userHidden', 'user'],
  generator: { encoder: 'gru' },
});
await train(duet, { train: trainSet }, options);

const baseReport = await evaluateModel(base, test);
const duetReport = await evaluateModel(duet, test);
for (const [name, r] of [['your model', baseReport], ['your model + DUET', duetReport]] as const) {
  console.log(`${name.padEnd(18)} AUC ${r.auc.toFixed(4)}  UAUC ${r.uauc.toFixed(4)}  ` +
    `NDCG@10 ${r['ndcg@10'].toFixed(4)}`);
}

// 3. Cloud and device halves. The cloud turns one user's clicks into parameters, sends them as
//    bytes (here float16); the device decodes them and scores its candidates locally.
const { generator, device, layout } = splitDuet(duet);
const clicks = tf.tensor2d(test.click.subarray(0, L), [1, L], 'int32'); // the first test user
const params = generator.predict(clicks) as tf.Tensor;
const bytes = encodePayload(params.dataSync() as Float32Array, {
  layout, fingerprint: generatorFingerprint(generator), format: 'f16',
});
console.log(`cloud → device: ${layout.total} parameters in ${bytes.byteLength} bytes`);

const received = decodePayload(bytes);
const candidates = [1, 2, 3, 4, 5, 6, 7, 8];
const n = candidates.length;
// The device part takes the model's inputs it still needs, then the parameters (one row per
// candidate: the same user's parameters repeated).
const deviceInputs = device.inputs.map((input) => {
  switch (input.sourceLayer.name) {
    case 'target': return tf.tensor2d(candidates, [n, 1], 'int32');
    case 'click': return tf.tile(clicks, [n, 1]);
    default: return tf.tile(tf.tensor2d(received.values, [1, received.total]), [n, 1]);
  }
});
const onDevice = (device.predict(deviceInputs) as tf.Tensor).dataSync();
const inCloud = (duet.predict([deviceInputs[0], tf.tile(clicks, [n, 1])]) as tf.Tensor).dataSync();
const worst = Math.max(...Array.from(onDevice, (v, i) => Math.abs(v - inCloud[i])));
console.log(`device scores: [${Array.from(onDevice, (v) => v.toFixed(3)).join(', ')}]`);
console.log(`largest difference from the full DUET model (float16 payload): ${worst.toExponential(1)}`);
