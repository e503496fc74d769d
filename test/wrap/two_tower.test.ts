import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { createModel } from '../../src/models/create_model';
import { splitDuet } from '../../src/wrap/split_duet';
import {
  dotItems, itemTowerOutputs, scoreTwoTower, splitTwoTower, twoTowerReason,
} from '../../src/wrap/two_tower';
import { CLICK_LENGTH, NUM_ITEMS, tinyOptions } from '../models/helpers';

type Sym = tfl.SymbolicTensor;

const CANDIDATES = [3, 12, 1, 7, 7, 9];
const HISTORIES = [[4, 2, 9, 0, 0], [0, 0, 0, 0, 0], [11, 10, 8, 6, 5]];

/** A reference model; DUET variants get a random generator so the parameters matter. */
function build(kind: 'sasrec' | 'gru4rec' | 'din', variant: 'base' | 'duet', itemBias = false) {
  const { model } = createModel(tinyOptions(kind, {
    variant, itemBias, generator: { init: 'glorot', encoder: 'mean' },
  }));
  if (itemBias) {
    // The bias table starts at zero: make it matter.
    const table = model.getLayer('itemBias');
    table.setWeights([tf.randomNormal([NUM_ITEMS + 1, 1], 0, 1, 'float32', 5)]);
  }
  return model;
}

/** The model on the history tiled over the candidates (what the fast path must reproduce). */
function tiled(model: tfl.LayersModel, history: number[], extra: tf.Tensor[] = []): Float32Array {
  return tf.tidy(() => {
    const n = CANDIDATES.length;
    const xs = [tf.tensor2d(CANDIDATES, [n, 1]), tf.tile(tf.tensor2d([history]), [n, 1]),
      ...extra.map((t) => tf.tile(t, [n, 1]))];
    return (model.predict(xs, { batchSize: n }) as tf.Tensor).dataSync() as Float32Array;
  });
}

function fast(model: tfl.LayersModel, userInputs: tf.Tensor[]): Float32Array {
  const parts = splitTwoTower(model);
  if (parts === null) throw new Error(twoTowerReason(model) ?? 'no reason');
  return tf.tidy(() => scoreTwoTower(parts, userInputs, tf.tensor2d(CANDIDATES, [CANDIDATES.length, 1])).dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** target and click inputs, the shared embedding and a mean-pooled history. */
function stem() {
  const target = tfl.input({ shape: [1], name: 'target' });
  const click = tfl.input({ shape: [CLICK_LENGTH], name: 'click' });
  const emb = tfl.layers.embedding({ inputDim: NUM_ITEMS + 1, outputDim: 4, name: 'emb',
    embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1 }) });
  const item = tfl.layers.flatten().apply(emb.apply(target)) as Sym;
  const user = tfl.layers.globalAveragePooling1d({}).apply(emb.apply(click)) as Sym;
  return { target, click, item, user };
}

describe('splitTwoTower on the reference models', () => {
  for (const kind of ['sasrec', 'gru4rec'] as const) {
    for (const variant of ['base', 'duet'] as const) {
      it(`${kind} ${variant}: user once + item vectors equal the tiled model (with and without itemBias)`, () => {
        for (const itemBias of [false, true]) {
          const model = build(kind, variant, itemBias);
          const parts = splitTwoTower(model);
          expect(parts, twoTowerReason(model) ?? '').not.toBeNull();
          expect(parts).toMatchObject({ userInputs: [1], targetInput: 0, dim: 8, itemBias });
          expect(twoTowerReason(model)).toBeNull();
          for (const history of HISTORIES) {
            const want = tiled(model, history);
            expect(maxDiff(fast(model, [tf.tensor2d([history])]), want)).toBeLessThan(1e-5);
          }
          // Personalised: different histories, different scores.
          expect(maxDiff(tiled(model, HISTORIES[0]), tiled(model, HISTORIES[2]))).toBeGreaterThan(1e-4);
        }
      });
    }
    it(`${kind}: splitDuet's device model splits too (user side = click + parameters)`, () => {
      const duet = build(kind, 'duet', true);
      const { generator, device } = splitDuet(duet);
      const parts = splitTwoTower(device);
      expect(parts?.userInputs).toEqual([1, 2]);
      for (const history of HISTORIES) {
        const click = tf.tensor2d([history]);
        const params = generator.predict(click) as tf.Tensor;
        const want = tiled(device, history, [params]);
        expect(maxDiff(fast(device, [click, params]), want)).toBeLessThan(1e-5);
        // And the device equals the whole DUET model.
        expect(maxDiff(want, tiled(duet, history))).toBeLessThan(1e-5);
        tf.dispose([click, params]);
      }
    });
  }

  it('DIN (target attention) is not two-tower, with a reason', () => {
    for (const variant of ['base', 'duet'] as const) {
      const model = build('din', variant);
      expect(splitTwoTower(model)).toBeNull();
      expect(twoTowerReason(model)).toMatch(/^model 'din(_duet)?' is not two-tower: its output comes from layer 'output' \(Dense\)/);
      const withBias = build('din', variant, true);
      expect(splitTwoTower(withBias)).toBeNull();
      expect(twoTowerReason(withBias)).toMatch(/its output is the Add 'score' of layer 'output' \(Dense\), layer 'targetBias' \(Flatten\); two-tower needs exactly one Dot/);
    }
  });

  it('caches the analysis per model, and the towers share the model weights', () => {
    const model = build('gru4rec', 'base');
    const parts = splitTwoTower(model);
    expect(splitTwoTower(model)).toBe(parts);
    const before = fast(model, [tf.tensor2d([HISTORIES[0]])]);
    const tower = model.getLayer('targetTower1');
    tower.setWeights(tower.getWeights().map((w) => tf.mul(w, 2)));
    const after = fast(model, [tf.tensor2d([HISTORIES[0]])]);
    expect(maxDiff(after, tiled(model, HISTORIES[0]))).toBeLessThan(1e-5);
    expect(maxDiff(after, before)).toBeGreaterThan(1e-4);
  });

  it('scores n users at once (row-wise) and leaks no tensors', () => {
    const model = build('sasrec', 'duet', true);
    const parts = splitTwoTower(model)!;
    const n = CANDIDATES.length;
    const histories = CANDIDATES.map((_, i) => HISTORIES[i % HISTORIES.length]);
    const want = tf.tidy(() => (model.predict([tf.tensor2d(CANDIDATES, [n, 1]), tf.tensor2d(histories)]) as tf.Tensor).dataSync());
    const clicks = tf.tensor2d(histories);
    const targets = tf.tensor2d(CANDIDATES, [n, 1]);
    const before = tf.memory().numTensors;
    const got = scoreTwoTower(parts, [clicks], targets);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(maxDiff(got.dataSync(), want)).toBeLessThan(1e-5);
    // [n] ids work as well as [n, 1].
    const flat = tf.tensor1d(CANDIDATES);
    const items = itemTowerOutputs(parts, flat);
    expect(items.vectors.shape).toEqual([n, 8]);
    expect(items.bias?.shape).toEqual([n]);
    const user = tf.tidy(() => parts.user.predict(tf.tensor2d([HISTORIES[0]])) as tf.Tensor);
    const viaDot = dotItems(user, items);
    expect(maxDiff(viaDot.dataSync(), tiled(model, HISTORIES[0]))).toBeLessThan(1e-5);
    tf.dispose([got, flat, items.vectors, items.bias!, user, viaDot]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => scoreTwoTower(parts, [], targets)).toThrow(/'userInputs' passed to 'scoreTwoTower' must be 1 tensor\(s\), the inputs 'click'/);
    expect(() => scoreTwoTower(parts, [tf.tensor2d([HISTORIES[0], HISTORIES[1]])], targets))
      .toThrow(/must all have 1 row or 6 rows/);
    tf.dispose([clicks, targets]);
  });
});

describe('splitTwoTower on hand-built graphs', () => {
  it('accepts Dot in either order and several per-item terms, and a custom target name', () => {
    const s = stem();
    const biasA = tfl.layers.dense({ units: 1, name: 'biasA' }).apply(s.item) as Sym;
    const biasB = tfl.layers.dense({ units: 1, name: 'biasB', biasInitializer: 'ones' }).apply(s.item) as Sym;
    const dot = tfl.layers.dot({ axes: -1 }).apply([s.item, s.user]) as Sym;
    const out = tfl.layers.add().apply([biasA, dot, biasB]) as Sym;
    const model = tfl.model({ inputs: [s.click, s.target], outputs: out, name: 'swapped' });
    const parts = splitTwoTower(model);
    expect(parts).toMatchObject({ userInputs: [0], targetInput: 1, dim: 4, itemBias: true });
    const n = CANDIDATES.length;
    const want = tf.tidy(() => (model.predict([tf.tile(tf.tensor2d([HISTORIES[0]]), [n, 1]),
      tf.tensor2d(CANDIDATES, [n, 1])]) as tf.Tensor).dataSync());
    expect(maxDiff(fast(model, [tf.tensor2d([HISTORIES[0]])]), want)).toBeLessThan(1e-5);
    // Named differently, the item input is found by name.
    const item = tfl.input({ shape: [1], name: 'item' });
    const click = tfl.input({ shape: [CLICK_LENGTH], name: 'click' });
    const emb = tfl.layers.embedding({ inputDim: NUM_ITEMS + 1, outputDim: 3 });
    const named = tfl.model({ inputs: [item, click], outputs: tfl.layers.dot({ axes: 1 }).apply([
      tfl.layers.flatten().apply(emb.apply(item)) as Sym,
      tfl.layers.globalAveragePooling1d({}).apply(emb.apply(click)) as Sym]) as Sym });
    expect(splitTwoTower(named)).toBeNull();
    expect(twoTowerReason(named)).toMatch(/has no input named 'target' \(its inputs are 'item', 'click'\)/);
    expect(splitTwoTower(named, { target: 'item' })).toMatchObject({ userInputs: [1], targetInput: 0 });
  });

  it('rejects graphs where the split is not exact, saying why', () => {
    const cases: Array<[string, (s: ReturnType<typeof stem>) => Sym, RegExp]> = [
      ['cosine', (s) => tfl.layers.dot({ axes: 1, normalize: true }).apply([s.user, s.item]) as Sym, /normalizes its inputs/],
      ['activation after the dot', (s) => tfl.layers.activation({ activation: 'sigmoid' })
        .apply(tfl.layers.dot({ axes: 1 }).apply([s.user, s.item])) as Sym, /comes from layer '.*' \(Activation\), not from a Dot/],
      ['item side reads the history', (s) => {
        const mixed = tfl.layers.add().apply([s.item, s.user]) as Sym;
        return tfl.layers.dot({ axes: 1 }).apply([s.user, mixed]) as Sym;
      }, /neither side of Dot '.*' depends on 'target' alone \(they depend on 'click' and 'target', 'click'\)/],
      ['user side reads the target', (s) => {
        const mixed = tfl.layers.multiply().apply([s.item, s.user]) as Sym;
        return tfl.layers.dot({ axes: 1 }).apply([mixed, s.item]) as Sym;
      }, /both sides of Dot '.*' depend on 'target'/],
      ['a bias that reads the history', (s) => tfl.layers.add().apply([
        tfl.layers.dot({ axes: 1 }).apply([s.user, s.item]) as Sym,
        tfl.layers.dense({ units: 1 }).apply(s.user) as Sym]) as Sym, /adds a term from layer '.*' \(Dense\) that is not a \[batch, 1\] function of 'target' alone \(it depends on 'click'\)/],
      ['a plain MLP', (s) => tfl.layers.dense({ units: 1 }).apply(
        tfl.layers.concatenate().apply([s.user, s.item])) as Sym, /comes from layer '.*' \(Dense\)/],
    ];
    for (const [name, head, reason] of cases) {
      const s = stem();
      const model = tfl.model({ inputs: [s.target, s.click], outputs: head(s), name });
      expect(splitTwoTower(model), name).toBeNull();
      expect(twoTowerReason(model), name).toMatch(reason);
    }
    const s = stem();
    const two = tfl.model({ inputs: [s.target, s.click], outputs: [s.item, s.user], name: 'two' });
    expect(twoTowerReason(two)).toMatch(/it has 2 outputs, not one/);
    expect(() => splitTwoTower(null as never)).toThrow(/'model' passed to 'splitTwoTower' must be a tfjs-layers LayersModel/);
  });
});
