import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { createModel } from '../../src/models/create_model';
import { directForward, withDirectPredict } from '../../src/wrap/direct_forward';
import { splitDuet } from '../../src/wrap/split_duet';

/** tfjs-layers' own predict, whatever the model's predict now is. */
const graphPredict = (model: tfl.LayersModel, x: tf.Tensor | tf.Tensor[], batchSize?: number) =>
  tfl.LayersModel.prototype.predict.call(model, x, { batchSize }) as tf.Tensor;

const ids = tf.tensor2d([[0, 0, 3, 9, 4], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7], [0, 0, 0, 0, 0], [6, 6, 0, 2, 1]]);

describe('withDirectPredict / directForward', () => {
  it("gives splitDuet's generator predict's exact values, in one pass or in batches, without leaks", () => {
    const duet = createModel({ model: 'sasrec', variant: 'duet', numItems: 12, clickLength: 5, dim: 8,
      generator: { encoder: 'mean' }, seed: 3 }).model;
    const { generator } = splitDuet(duet);
    const expected = graphPredict(generator, ids, 8).dataSync();
    const before = tf.memory().numTensors;
    for (const batchSize of [8, 2]) {
      const params = generator.predict(ids, { batchSize }) as tf.Tensor;
      expect(Array.from(params.dataSync())).toEqual(Array.from(expected));
      params.dispose();
    }
    const [direct] = directForward(generator)([ids]);
    expect(Array.from(direct.dataSync())).toEqual(Array.from(expected));
    direct.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('passes masks as predict does (a masked embedding, then a layer that reads the mask)', () => {
    /** Zeroes the masked steps when it is given a mask. */
    class MaskReader extends tfl.layers.Layer {
      constructor() {
        super({});
        this.supportsMasking = true;
      }
      override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const mask = kwargs.mask as tf.Tensor | undefined;
        return mask === undefined ? tf.add(x, 1) : tf.mul(x, tf.expandDims(tf.cast(mask, 'float32'), 2));
      }
      static get className() { return 'TestMaskReader'; }
    }
    const input = tfl.input({ shape: [5] });
    const embedded = tfl.layers.embedding({ inputDim: 10, outputDim: 3, maskZero: true }).apply(input);
    const model = tfl.model({ inputs: input, outputs: new MaskReader().apply(embedded) as tfl.SymbolicTensor });
    const expected = Array.from(graphPredict(model, ids).dataSync());
    expect(expected.slice(0, 6).map(Math.abs)).toEqual([0, 0, 0, 0, 0, 0]); // the reader got the mask
    const [direct] = directForward(model)([ids]);
    expect(Array.from(direct.dataSync())).toEqual(expected);
  });

  it("hands inputs it does not take as they are to tfjs-layers' predict (same errors)", () => {
    const input = tfl.input({ shape: [5] });
    const model = withDirectPredict(tfl.model({ inputs: input,
      outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor }));
    expect(withDirectPredict(model)).toBe(model);
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const wrong = tf.zeros([2, 4]);
    expect(message(() => model.predict(wrong))).toBe(message(() => graphPredict(model, wrong)));
    expect(message(() => model.predict(wrong))).toMatch(/expected input.*to have shape \[null,5\]/);
    expect(message(() => model.predict(ids, { batchSize: 0 }))).toBe(message(() => graphPredict(model, ids, 0)));
    expect(() => directForward(model)([ids, ids])).toThrow(/'inputs' passed to 'directForward' of model '.*' must be 1 tensor\(s\), got 2/);
  });
});
