import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { SequenceMask, sequenceMaskLayer } from '../../src/layers/sequence_mask';
import { roundTrip } from '../helpers/round_trip';
import { leakedTensors } from './reference';

const IDS = [[3, 7, 0, 0], [0, 0, 5, 1], [0, 0, 0, 0]];
const MASK = [[1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]];

describe('SequenceMask', () => {
  it('keeps the [batch, time] shape symbolically and has no weights', () => {
    const layer = sequenceMaskLayer();
    expect((layer.apply(tfl.input({ shape: [4] })) as tfl.SymbolicTensor).shape).toEqual([null, 4]);
    expect(layer.weights).toHaveLength(0);
  });

  it('is 1 where the id is positive and 0 at padding, as float32, for float or int ids', () => {
    for (const dtype of ['float32', 'int32'] as const) {
      const y = sequenceMaskLayer().apply(tf.tensor(IDS, undefined, dtype)) as tf.Tensor;
      expect(y.dtype).toBe('float32');
      expect(y.arraySync()).toEqual(MASK);
    }
  });

  it('survives a save/load round trip inside a model', async () => {
    const ids = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: ids, outputs: sequenceMaskLayer({ name: 'm' }).apply(ids) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    expect(loaded.getLayer('m')).toBeInstanceOf(SequenceMask);
    expect((loaded.predict(tf.tensor(IDS)) as tf.Tensor).arraySync()).toEqual(MASK);
  });

  it('does not leak tensors over repeated predict', () => {
    const ids = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: ids, outputs: sequenceMaskLayer().apply(ids) as tfl.SymbolicTensor });
    const x = tf.tensor(IDS);
    expect(leakedTensors(() => model.predict(x) as tf.Tensor)).toBe(0);
  });

  it('rejects inputs that are not [batch, time]', () => {
    expect(() => sequenceMaskLayer().apply(tfl.input({ shape: [4, 2] })))
      .toThrow("'ids' passed to 'SequenceMask' must have shape [batch, time], got [batch, 4, 2]");
    expect(() => sequenceMaskLayer().apply(tf.zeros([4])))
      .toThrow("'ids' passed to 'SequenceMask' must have shape [batch, time], got [4]");
    expect(() => sequenceMaskLayer().apply([tfl.input({ shape: [4] }), tfl.input({ shape: [4] })]))
      .toThrow("'SequenceMask' expects inputs [ids], got 2 input(s)");
  });
});
