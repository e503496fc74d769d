import { describe, expect, it } from 'vitest';

import { synthetic } from '../../../src/data/synthetic';
import { createModel } from '../../../src/models/create_model';
import { train } from '../../../src/train/train';
import { useWasmInThisFile } from '../../helpers/cpu_parity';
import { cloneModel, maxWeightDiff, weightValues } from '../../eval/models';

useWasmInThisFile();

describe('train with threads on wasm', () => {
  it('equals one-thread training for DUET-SASRec (each worker on its own wasm instance)', async () => {
    const { train: trainSet } = synthetic({ users: 12, items: 30, seed: 2, testNeg: 4, maxSeq: 8, clickLength: 6, triggerLength: 3 });
    const base = createModel({ model: 'sasrec', variant: 'duet', numItems: 30, clickLength: 6, dim: 8, seed: 1 }).model;
    const one = await cloneModel(base);
    const two = await cloneModel(base);
    const options = { epochs: 1, batchSize: 32, learningRate: 0.01, clipNorm: 1, seed: 3 };
    const r1 = await train(one, { train: trainSet }, { ...options, threads: 1 });
    const r2 = await train(two, { train: trainSet }, { ...options, threads: 2 });
    expect(r2.threads).toBe(2);
    expect(maxWeightDiff(weightValues(one), weightValues(base))).toBeGreaterThan(1e-3);
    expect(maxWeightDiff(weightValues(two), weightValues(one))).toBeLessThan(1e-5);
    expect(Math.abs(r2.history[0].loss - r1.history[0].loss)).toBeLessThan(1e-5);
  }, 60_000);
});
