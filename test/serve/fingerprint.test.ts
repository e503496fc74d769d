import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { generatorFingerprint } from '../../src/serve/fingerprint';
import { roundTrip } from '../helpers/round_trip';
import { tinyDuet } from './tiny_duet';

describe('generatorFingerprint', () => {
  it('is 16 hex digits, stable across save/load and across loading twice', async () => {
    const { generator } = tinyDuet();
    const fp = generatorFingerprint(generator);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(generatorFingerprint(generator)).toBe(fp);
    const a = await roundTrip(generator);
    const b = await roundTrip(generator); // tfjs renames the second copy's variables
    expect(a.weights.map((w) => w.name)).not.toEqual(b.weights.map((w) => w.name));
    expect(generatorFingerprint(a)).toBe(fp);
    expect(generatorFingerprint(b)).toBe(fp);
  });

  it('changes with any weight value, with the seed-trained weights, and with the structure', () => {
    const { generator } = tinyDuet();
    const fp = generatorFingerprint(generator);
    const w = generator.weights[generator.weights.length - 1];
    const values = w.read().dataSync().slice();
    values[0] = values[0] + Math.abs(values[0]) * 1e-6 + 1e-30; // the smallest visible change
    w.write(tf.tensor(values, w.shape as number[]));
    expect(generatorFingerprint(generator)).not.toBe(fp);
    expect(generatorFingerprint(tinyDuet({ seed: 2 }).generator)).not.toBe(generatorFingerprint(tinyDuet({ seed: 3 }).generator));
    expect(generatorFingerprint(tinyDuet({ encoder: 'last' }).generator)).not.toBe(generatorFingerprint(tinyDuet({ encoder: 'mean' }).generator));
  });

  it('rejects a model without a ParameterGenerator', () => {
    const { device } = tinyDuet();
    expect(() => generatorFingerprint(device)).toThrow("'generatorFingerprint' needs a model with exactly one ParameterGenerator layer");
  });
});
