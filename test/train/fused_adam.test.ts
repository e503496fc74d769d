// The fused Adam (one DuetAdam kernel per variable) against tf.train.adam: same weights within
// 1e-6 over several steps, with and without the clipping factor, on cpu and on wasm (SIMD).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hasFastPath } from '../../src/backend/kernels/fast_path';
import { useBackend } from '../../src/backend/use_backend';
import { ParameterGenerator } from '../../src/layers/parameter_generator';
import { FusedAdam } from '../../src/train/optim/fused_adam';
import { bceWithLogits, clipByGlobalNorm, Stepper } from '../../src/train/train_step';
import { forwardLogits } from '../../src/eval/model_inputs';
import { floats } from '../helpers/cpu_parity';
import { cloneModel, maxWeightDiff, tinyData, tinyDuetModel, weightValues } from '../eval/models';

const BACKENDS = ['cpu', 'wasm'] as const;

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  expect(await useBackend('wasm')).toBe('wasm');
  await useBackend('cpu');
});
afterAll(async () => {
  await useBackend('cpu');
});

/** Finite floats in [-scale, scale) (the helper's first values are NaN/±Infinity/-0). */
const values = (n: number, seed: number, scale = 1) =>
  Float32Array.from(floats(n + 8, seed).subarray(8), (v) => v * scale);

describe('FusedAdam', () => {
  it('runs wasm through the SIMD fast path', async () => {
    await useBackend('wasm');
    expect(hasFastPath(tf.getKernel('DuetAdam', 'wasm'))).toBe(true);
    await useBackend('cpu');
  });

  it.each(BACKENDS)('%s: gives the weights tf.train.adam gives, step after step, with a scale on some steps', async (backend) => {
    await useBackend(backend);
    const shapes = [[7], [13, 9], [1003], [4, 4]];
    const init = shapes.map((s, i) => values(tf.util.sizeFromShape(s), 10 + i));
    const make = (tag: string) => shapes.map((s, i) => tf.variable(tf.tensor(init[i], s), true, `${tag}${i}`));
    const fusedVars = make(`fused-${backend}-`);
    const refVars = make(`ref-${backend}-`);
    const fused = new FusedAdam(0.01);
    const reference: tf.Optimizer = tf.train.adam(0.01);
    const before = tf.memory().numTensors;
    let worst = 0;
    for (let step = 0; step < 6; step++) {
      const grads = shapes.map((s, i) => tf.tensor(values(tf.util.sizeFromShape(s), 100 * step + i, 2 + step), s));
      const scaleValue = step % 2 === 1 ? 0.37 : undefined;
      const scale = scaleValue === undefined ? undefined : tf.scalar(scaleValue);
      // Variable 3 has no gradient at step 2: its moments must wait, as tfjs's do.
      const use = (i: number) => !(step === 2 && i === 3);
      const fusedGrads: tf.NamedTensorMap = {};
      const refGrads: tf.NamedTensorMap = {};
      grads.forEach((g, i) => {
        if (!use(i)) return;
        fusedGrads[fusedVars[i].name] = g;
        refGrads[refVars[i].name] = scale === undefined ? g : tf.mul(g, scale);
      });
      fused.applyGradients(fusedGrads, scale);
      reference.applyGradients(refGrads);
      if (scale !== undefined) tf.dispose(Object.values(refGrads));
      tf.dispose([...grads, ...(scale === undefined ? [] : [scale])]);
      for (let i = 0; i < shapes.length; i++) {
        const a = fusedVars[i].dataSync();
        const b = refVars[i].dataSync();
        for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
      }
      expect(worst, `step ${step}`).toBeLessThanOrEqual(1e-6);
    }
    // The weights did move (a test that nothing happened in either would pass the line above).
    expect(Math.abs(fusedVars[2].dataSync()[0] - init[2][0])).toBeGreaterThan(0.02);
    // Each Adam keeps two moments per variable; nothing else is left behind by the steps.
    expect(tf.memory().numTensors).toBe(before + 4 * shapes.length);
    fused.dispose();
    reference.dispose();
    tf.dispose([...fusedVars, ...refVars]);
  });

  it('refuses inputs of the wrong size, naming them', async () => {
    await useBackend('cpu');
    const w = tf.variable(tf.zeros([4]), true, 'adam-bad-w');
    const adam = new FusedAdam(0.1);
    const g = tf.zeros([5]);
    expect(() => adam.applyGradients({ [w.name]: g })).toThrow(/DuetAdam: input 'g' must be float32 with the 4 values of 'w'/);
    expect(() => adam.applyGradients({ nope: g })).toThrow(/no variable named 'nope'/);
    tf.dispose([w, g]);
    adam.dispose();
  });
});

describe('Stepper with the fused Adam', () => {
  const DIMS = { numItems: 20, clickLength: 4, triggerLength: 2 };
  const data = tinyData({ users: 6, rowsPerUser: 8, ...DIMS, seed: 4 });
  const inputsOf = (model: tfl.LayersModel) => model.inputs.map((t) => {
    const name = t.sourceLayer.name;
    if (name === 'target') return tf.tensor2d(data.target, [data.size, 1], 'int32');
    if (name === 'click') return tf.tensor2d(data.click, [data.size, DIMS.clickLength], 'int32');
    return tf.tensor2d(data.trigger, [data.size, DIMS.triggerLength], 'int32');
  });
  const lossOf = (model: tfl.LayersModel, inputs: tf.Tensor[], labels: tf.Tensor) =>
    () => bceWithLogits(labels, forwardLogits(model, inputs, true));

  it.each(BACKENDS)('%s: equals tf.train.adam with clipNorm and the generator\'s own learning rate, over 5 steps', async (backend) => {
    await useBackend(backend);
    const model = tinyDuetModel(DIMS);
    const copy = await cloneModel(model);
    const labels = tf.tensor1d(data.label);
    const inputs = inputsOf(model);
    const options = { learningRate: 0.01, generatorLearningRate: 0.05, clipNorm: 0.05 };
    const stepper = new Stepper(model, options, 'test');
    // The reference: tfjs's Adams on the clone, clipped by clipByGlobalNorm.
    const generatorNames = new Set(copy.layers.filter((l) => l instanceof ParameterGenerator)
      .flatMap((l) => l.trainableWeights.map((w) => (w.read() as tf.Variable).name)));
    expect(generatorNames.size).toBeGreaterThan(0);
    const variables = copy.trainableWeights.map((w) => w.read() as tf.Variable);
    const adam: tf.Optimizer = tf.train.adam(options.learningRate);
    const generatorAdam: tf.Optimizer = tf.train.adam(options.generatorLearningRate);
    let clipped = 0;
    for (let step = 0; step < 5; step++) {
      const profile = await tf.profile(() => stepper.minimize(lossOf(model, inputs, labels)).dispose());
      expect(profile.kernels.filter((k) => k.name === 'DuetAdam')).toHaveLength(stepper.trainable.length);
      const { value, grads } = tf.variableGrads(lossOf(copy, inputs, labels), variables);
      const norm = Math.sqrt(Object.values(grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0], 0));
      if (norm > options.clipNorm) clipped++;
      const applied = clipByGlobalNorm(grads, options.clipNorm);
      const own: tf.NamedTensorMap = {};
      const rest: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(applied)) (generatorNames.has(name) ? own : rest)[name] = g;
      adam.applyGradients(rest);
      generatorAdam.applyGradients(own);
      tf.dispose([value, ...Object.values(grads), ...Object.values(applied)]);
      expect(maxWeightDiff(weightValues(model), weightValues(copy)), `step ${step}`).toBeLessThanOrEqual(1e-6);
    }
    expect(clipped).toBeGreaterThan(0); // the clipping factor was exercised
    expect(maxWeightDiff(weightValues(model), weightValues(await cloneModel(tinyDuetModel(DIMS))))).toBeGreaterThan(1e-3);
    stepper.dispose();
    adam.dispose();
    generatorAdam.dispose();
    tf.dispose([labels, ...inputs]);
  });
});
