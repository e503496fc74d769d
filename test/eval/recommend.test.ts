import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { IdMap } from '../../src/data/id_map';
import type { DuetDataset } from '../../src/data/types';
import { releaseItemVectors } from '../../src/eval/item_vectors';
import { recommend, scoreCandidates } from '../../src/eval/recommend';
import { scoreDataset } from '../../src/eval/score';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { splitTwoTower } from '../../src/wrap/two_tower';
import { tinyDuetModel, tinyModel } from './models';

const NUM_ITEMS = 40;
const DIMS = { numItems: NUM_ITEMS, clickLength: 5, triggerLength: 3 };
const HISTORY = [4, 17, 9];

/** Brute force: every eligible item scored, fully sorted by score descending, then item id. */
async function bruteForce(model: Parameters<typeof scoreCandidates>[0], click: number[], exclude: Set<number>, k: number) {
  const items = Array.from({ length: NUM_ITEMS }, (_, i) => i + 1).filter((i) => !exclude.has(i));
  const scores = await scoreCandidates(model, click, items);
  return items.map((item, i) => ({ item, score: scores[i] }))
    .sort((a, b) => b.score - a.score || a.item - b.item)
    .slice(0, k);
}

/** One dataset row per candidate with the history laid out as the protocol does. */
function rowsFor(click: Int32Array, trigger: Int32Array, candidates: number[], user = 1): DuetDataset {
  const n = candidates.length;
  const ds: DuetDataset = {
    size: n, clickLength: click.length, triggerLength: trigger.length,
    user: new Int32Array(n).fill(user), target: Int32Array.from(candidates),
    click: new Int32Array(n * click.length), trigger: new Int32Array(n * trigger.length),
    label: new Float32Array(n), numItems: NUM_ITEMS, numUsers: user,
  };
  for (let r = 0; r < n; r++) {
    ds.click.set(click, r * click.length);
    ds.trigger.set(trigger, r * trigger.length);
  }
  return ds;
}

describe('scoreCandidates', () => {
  it('equals scoring dataset rows built by the protocol (right-padded click and trigger)', async () => {
    const model = tinyModel({ ...DIMS, numUsers: 3 });
    const candidates = [1, 5, 40, 22, 5];
    const got = await scoreCandidates(model, HISTORY, candidates, { user: 2, batchSize: 2 });
    const ds = rowsFor(Int32Array.of(4, 17, 9, 0, 0), Int32Array.of(4, 17, 9), candidates, 2);
    const want = await scoreDataset(model, ds);
    got.forEach((s, i) => expect(s).toBeCloseTo(want[i], 5));
  });

  it('keeps the last L items of a long history, drops padding zeros, pads short ones', async () => {
    const model = tinyModel(DIMS);
    const long = [1, 2, 3, 4, 5, 6, 7, 8];
    const candidates = [3, 11, 29];
    const a = await scoreCandidates(model, long, candidates);
    const b = await scoreCandidates(model, long.slice(-5), candidates);
    const c = await scoreCandidates(model, [0, 4, 5, 0, 6, 7, 8, 0], candidates);
    const want = await scoreDataset(model, rowsFor(Int32Array.of(4, 5, 6, 7, 8), Int32Array.of(6, 7, 8), candidates));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(c)).toEqual(Array.from(b));
    a.forEach((s, i) => expect(s).toBeCloseTo(want[i], 5));
    const empty = await scoreCandidates(model, [], [1]);
    const wantEmpty = await scoreDataset(model, rowsFor(new Int32Array(5), new Int32Array(3), [1]));
    expect(empty[0]).toBeCloseTo(wantEmpty[0], 5);
  });

  it('rejects bad ids and a missing user for a model with a user input', async () => {
    const model = tinyModel(DIMS);
    await expect(scoreCandidates(model, [1, -2], [1])).rejects.toThrow(/'click' passed to 'scoreCandidates' must hold non-negative integer item ids, got -2 at index 1/);
    await expect(scoreCandidates(model, [1], [0])).rejects.toThrow(/'candidates' .* positive integer item ids, got 0 at index 0/);
    await expect(scoreCandidates(tinyModel({ ...DIMS, numUsers: 2 }), [1], [1])).rejects.toThrow(/'user' passed to 'scoreCandidates'/);
  });
});

describe('recommend', () => {
  it('equals a brute-force full sort, across batch sizes, for plain and DUET models', async () => {
    for (const model of [tinyModel(DIMS), tinyDuetModel(DIMS)]) {
      const want = await bruteForce(model, HISTORY, new Set(), 7);
      for (const batchSize of [1, 6, 4096]) {
        const got = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 7, batchSize });
        expect(got.map((r) => r.item)).toEqual(want.map((r) => r.item));
        got.forEach((r, i) => expect(r.score).toBeCloseTo(want[i].score, 5));
      }
    }
  });

  it('respects exclusions: the history, or a given set', async () => {
    const model = tinyModel(DIMS);
    const all = await bruteForce(model, HISTORY, new Set(), NUM_ITEMS);
    const top = all.slice(0, 3).map((r) => r.item);
    const byHistory = await recommend(model, top, { numItems: NUM_ITEMS, k: 5, exclude: 'history' });
    expect(byHistory.map((r) => r.item)).toEqual((await bruteForce(model, top, new Set(top), 5)).map((r) => r.item));
    expect(byHistory.some((r) => top.includes(r.item))).toBe(false);
    const excluded = new Set([top[0], 2, 3]);
    const bySet = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 5, exclude: excluded, batchSize: 7 });
    expect(bySet.map((r) => r.item)).toEqual((await bruteForce(model, HISTORY, excluded, 5)).map((r) => r.item));
  });

  it('speaks the catalogue\'s own ids with an item map: history, exclusions and results', async () => {
    const model = tinyModel(DIMS);
    const items = new IdMap(Array.from({ length: NUM_ITEMS }, (_, i) => `item-${i + 1}`));
    const mine = HISTORY.map((i) => `item-${i}`);
    const byIndex = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 5, exclude: [2, 3] });
    const byId = await recommend(model, mine, { numItems: NUM_ITEMS, k: 5, exclude: ['item-2', 'item-3'], items });
    expect(byId).toEqual(byIndex.map((r) => ({ ...r, id: `item-${r.item}` })));
    const noHistory = await recommend(model, mine, { numItems: NUM_ITEMS, k: 3, exclude: 'history', items });
    expect(noHistory.some((r) => mine.includes(r.id as string))).toBe(false);
    await expect(recommend(model, ['item-4', 'ghost'], { numItems: NUM_ITEMS, items }))
      .rejects.toThrow(`'click' passed to 'recommend' holds 1 id(s) the item map lacks: "ghost"`);
    await expect(recommend(model, HISTORY, { numItems: NUM_ITEMS, exclude: ['item-2'] }))
      .rejects.toThrow(`'exclude' passed to 'recommend' must hold integer item ids without an 'items' map, got "item-2"`);
  });

  it('returns every eligible item when k exceeds them, and none when all are excluded', async () => {
    const model = tinyModel(DIMS);
    const everything = Array.from({ length: NUM_ITEMS }, (_, i) => i + 1);
    const few = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 100, exclude: everything.slice(3) });
    expect(few.map((r) => r.item).sort((a, b) => a - b)).toEqual([1, 2, 3]);
    expect(await recommend(model, HISTORY, { numItems: NUM_ITEMS, exclude: everything })).toEqual([]);
  });

  it('breaks ties by the lower item id, whatever the batching', async () => {
    const model = tinyModel(DIMS);
    // Items 2k-1 and 2k share one embedding row: every score appears twice.
    const items = model.getLayer('items');
    const table = items.getWeights()[0].arraySync() as number[][];
    for (let i = 2; i <= NUM_ITEMS; i += 2) table[i] = table[i - 1];
    items.setWeights([tf.tensor2d(table)]);
    const want = await bruteForce(model, HISTORY, new Set(), 10);
    for (let i = 0; i < 10; i += 2) {
      expect(want[i].score).toBe(want[i + 1].score);
      expect(want[i + 1].item).toBe(want[i].item + 1);
    }
    for (const batchSize of [1, 3, 64]) {
      // k = 9 splits a tied pair at the cut: the lower id must stay.
      for (const k of [9, 10]) {
        const got = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k, batchSize });
        expect(got.map((r) => r.item)).toEqual(want.slice(0, k).map((r) => r.item));
      }
    }
  });

  it('rejects bad k, an empty catalogue and bad options; leaks no tensors', async () => {
    const model = tinyModel(DIMS);
    await expect(recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 0 })).rejects.toThrow(/'k' passed to 'recommend' must be a positive integer, got 0/);
    await expect(recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 2.5 })).rejects.toThrow(/'k'/);
    await expect(recommend(model, HISTORY, { numItems: 0 })).rejects.toThrow(/'numItems' passed to 'recommend' must be a positive integer, got 0/);
    await expect(recommend(model, HISTORY, {} as never)).rejects.toThrow(/'numItems'/);
    await expect(recommend(model, HISTORY, { numItems: 5, exclude: 7 as never })).rejects.toThrow(/'exclude'/);
    await recommend(model, HISTORY, { numItems: NUM_ITEMS, batchSize: 8 });
    const before = tf.memory().numTensors;
    await recommend(model, HISTORY, { numItems: NUM_ITEMS, batchSize: 8 });
    await scoreCandidates(model, HISTORY, [1, 2, 3]);
    await expect(recommend(model, HISTORY, { numItems: 5, exclude: 7 as never })).rejects.toThrow(/'exclude'/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A reference model over the NUM_ITEMS catalogue; DUET with a random generator. */
function reference(model: 'sasrec' | 'gru4rec' | 'din', variant: 'base' | 'duet', itemBias = false) {
  const built = createModel({
    model, variant, itemBias, numItems: NUM_ITEMS, clickLength: 5, dim: 8, seed: 3,
    generator: { init: 'glorot', encoder: 'mean' }, ...(model === 'sasrec' ? { numHeads: 2 } : {}),
    ...(model === 'din' ? { mlpUnits: [8], attentionUnits: [4] } : {}),
  } as CreateModelOptions).model;
  if (itemBias) built.getLayer('itemBias').setWeights([tf.randomNormal([NUM_ITEMS + 1, 1], 0, 1, 'float32', 9)]);
  return built;
}

/** Every item's logit through the tiled path (dataset rows), the reference for the fast path. */
async function tiledScores(model: Parameters<typeof scoreCandidates>[0], history: number[]) {
  const padded = Int32Array.from({ length: 5 }, (_, i) => history[i] ?? 0);
  const items = Array.from({ length: NUM_ITEMS }, (_, i) => i + 1);
  return scoreDataset(model, rowsFor(padded, padded.slice(0, 3), items));
}

function topOf(scores: Float32Array, exclude: Set<number>, k: number) {
  return Array.from(scores, (score, i) => ({ item: i + 1, score }))
    .filter((r) => !exclude.has(r.item))
    .sort((a, b) => b.score - a.score || a.item - b.item)
    .slice(0, k);
}

describe('scoreCandidates and recommend on two-tower models', () => {
  for (const kind of ['sasrec', 'gru4rec'] as const) {
    for (const variant of ['base', 'duet'] as const) {
      it(`${kind} ${variant}: the user side once, same logits and top-K as the tiled model`, async () => {
        for (const itemBias of [false, true]) {
          const model = reference(kind, variant, itemBias);
          expect(splitTwoTower(model)).not.toBeNull();
          const want = await tiledScores(model, HISTORY);
          const everything = Array.from({ length: NUM_ITEMS }, (_, i) => i + 1);
          const got = await scoreCandidates(model, HISTORY, everything, { batchSize: 16 });
          got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5));
          const exclude = new Set(HISTORY);
          for (const options of [{}, { cacheItems: false, batchSize: 6 }, { batchSize: 7 }]) {
            const top = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 7, exclude: 'history', ...options });
            const expected = topOf(want, exclude, 7);
            expect(top.map((r) => r.item)).toEqual(expected.map((r) => r.item));
            top.forEach((r, i) => expect(Math.abs(r.score - expected[i].score)).toBeLessThan(1e-5));
          }
          releaseItemVectors(model);
        }
      });
    }
  }

  it('DIN keeps the tiled path and its results', async () => {
    const model = reference('din', 'duet', true);
    expect(splitTwoTower(model)).toBeNull();
    const want = await tiledScores(model, HISTORY);
    const got = await scoreCandidates(model, HISTORY, [5, 1, 40]);
    [5, 1, 40].forEach((item, i) => expect(got[i]).toBeCloseTo(want[item - 1], 5));
    const top = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 4, exclude: [2] });
    expect(top.map((r) => r.item)).toEqual(topOf(want, new Set([2]), 4).map((r) => r.item));
  });

  it('the cached catalogue path breaks ties by the lower id and skips exclusions, for any k', async () => {
    const model = reference('sasrec', 'base');
    // Items 2i - 1 and 2i share an embedding, so their item vectors and scores are equal.
    const embedding = model.getLayer('itemEmbedding');
    const table = (await embedding.getWeights()[0].array()) as number[][];
    for (let i = 2; i <= NUM_ITEMS; i += 2) table[i] = table[i - 1];
    embedding.setWeights([tf.tensor2d(table)]);
    const want = topOf(await tiledScores(model, HISTORY), new Set(), NUM_ITEMS);
    for (let i = 0; i < 10; i += 2) expect(want[i].score).toBe(want[i + 1].score);
    for (const k of [1, 9, 10, NUM_ITEMS + 5]) {
      const got = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k });
      expect(got.map((r) => r.item)).toEqual(want.slice(0, k).map((r) => r.item));
      for (let i = 0; i + 1 < Math.min(k, 10); i += 2) expect(got[i].score).toBe(got[i + 1].score);
    }
    const excluded = [want[0].item, want[3].item];
    const got = await recommend(model, HISTORY, { numItems: NUM_ITEMS, k: 5, exclude: excluded });
    expect(got.map((r) => r.item)).toEqual(want.filter((r) => !excluded.includes(r.item)).slice(0, 5).map((r) => r.item));
    await expect(recommend(model, HISTORY, { numItems: 5, cacheItems: 'yes' as never })).rejects.toThrow(/'cacheItems' passed to 'recommend' must be a boolean/);
    releaseItemVectors(model);
  });
});
