// The seq-loo-v1 model defaults of train/compare are what docs/RESULTS.md and the TSDoc say.
import * as fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  LOO_DUET_DEFAULTS, LOO_GENERATOR_LEARNING_RATES, LOO_MODEL_DEFAULTS, looModelConfig, looSettings,
} from '../../src/cli/loo/loo_experiment';
import { LOO_DUET_FROM_BASE_DEFAULTS } from '../../src/cli/loo/duet_from_base_loo';
import { buildSeqLooSplit } from '../../src/data/protocols/seq_loo';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';

const split = buildSeqLooSplit(Array.from({ length: 6 }, (_, u) => ({
  user: `u${u}`, items: Array.from({ length: 6 }, (_, t) => `i${(u + t * 3) % 11}`),
})), { maxLen: 10 });
const o = { model: 'sasrec', loss: 'ce', 'max-epochs': 200, patience: 10, seed: 0 };

describe('seq-loo-v1 SASRec defaults', () => {
  it('base: no towers, click embeddings × √D; DUET: one linear tower layer per side, the user one generated', () => {
    const s = looSettings('train', o);
    const base = looModelConfig('train', o, s, split, 'base', {}) as unknown as Record<string, unknown>;
    expect(base).toMatchObject({
      numBlocks: 2, numHeads: 2, norm: 'pre', dropout: 0.2, sequenceTransform: false, towerLayers: 0,
      scaleEmbeddings: true, itemBias: false, positionOrigin: 'start', dynamicLayers: [],
    });
    const duet = looModelConfig('train', o, s, split, 'duet', {}) as unknown as Record<string, unknown>;
    expect(duet).toMatchObject({ towerLayers: 1, scaleEmbeddings: true, dynamicLayers: ['userTower1'] });
    expect((duet.generator as Record<string, unknown>)).toMatchObject({ condition: 'positions', encoder: 'gru' });
    expect(s.lr).toBe(0.005);
    expect(s.generatorLr).toBe(0.002);
    expect(LOO_GENERATOR_LEARNING_RATES.scratch.sasrec).toBe(0.002);
    // DUET built from the trained base (the default of train and compare): a fortieth of that.
    expect(looSettings('train', o, true).generatorLr).toBe(0.00005);
    expect(LOO_GENERATOR_LEARNING_RATES.base).toEqual({ sasrec: 0.00005, gru4rec: 0.00005 });
    expect(looSettings('train', { ...o, model: 'gru4rec' }, true).generatorLr).toBe(0.00005);
    expect(LOO_DUET_FROM_BASE_DEFAULTS.sasrec).toMatchObject({ userAdapter: true, dynamicLayers: ['userAdapter'] });
    expect(looSettings('train', { ...o, 'generator-lr': 0.001 }).generatorLr).toBe(0.001);
    expect(looSettings('train', { ...o, model: 'gru4rec' }).generatorLr).toBeUndefined();
    expect(() => looSettings('train', { ...o, 'generator-lr': -1 })).toThrow('train: --generator-lr must be a positive number, got -1');
    // Both build, and --model-options still wins.
    const { model } = createModel(base as unknown as CreateModelOptions);
    expect(model.layers.map((l) => l.name).filter((n) => /Tower/.test(n))).toEqual([]);
    const d = createModel(duet as unknown as CreateModelOptions).model.layers.map((l) => l.name);
    expect(d).toEqual(expect.arrayContaining(['userTower1', 'targetTower1']));
    expect(d).not.toContain('userTower2');
    expect(looModelConfig('train', o, s, split, 'base', { towerLayers: 2 })).toMatchObject({ towerLayers: 2 });
    expect(LOO_MODEL_DEFAULTS.sasrec.towerLayers).toBe(0);
    expect(LOO_DUET_DEFAULTS.sasrec.towerLayers).toBe(1);
  });

  it('docs/RESULTS.md states the same defaults', () => {
    const results = fs.readFileSync(new URL('../../docs/RESULTS.md', import.meta.url), 'utf8');
    expect(results).toContain('seq-loo-v1 SASRec defaults: base `towerLayers: 0, scaleEmbeddings: true`, DUET `towerLayers: 1` and `--generator-lr 0.002`');
    expect(results).toContain('seq-loo-v1 DUET defaults: built from the trained base (`--duet-from base`), `userAdapter` generated, `--static frozen`, `--generator-lr 0.00005` (GRU4Rec: `userTower1`, the same rate)');
  });
});
