import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/use_backend';
import { createRng } from '../../src/data/rng';
import { bceLoss } from '../../src/train/losses/bce';
import { meanSoftmaxCrossEntropy, meanSoftmaxCrossEntropyByOps } from '../../src/train/losses/common';
import { createSequenceLoss } from '../../src/train/losses/create_loss';
import { crossEntropyLoss } from '../../src/train/losses/cross_entropy';
import { sampledSoftmaxLoss } from '../../src/train/losses/sampled_softmax';
import type { ItemScorer, SamplingContext } from '../../src/train/losses/types';

// Items 1..4 as 2-d vectors (row 0 is padding), with a per-item bias.
const ITEMS = [[0, 0], [1, 0], [0, 1], [1, 1], [-1, 2]];
const BIAS = [0, 0.5, 0, -0.5, 0.25];
const USERS = [[2, 1], [-1, 0.5]];

function scorer(withBias: boolean): ItemScorer {
  return (ids) => ({
    vectors: tf.gather(tf.tensor2d(ITEMS), ids) as tf.Tensor2D,
    bias: withBias ? tf.gather(tf.tensor1d(BIAS), ids) as tf.Tensor1D : null,
  });
}

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1];
const logit = (u: number, item: number, withBias: boolean) => dot(USERS[u], ITEMS[item]) + (withBias ? BIAS[item] : 0);
const softplus = (x: number) => Math.log1p(Math.exp(x));
const value = (t: tf.Scalar) => { const v = t.dataSync()[0]; t.dispose(); return v; };

function compute(loss: ReturnType<typeof createSequenceLoss>, targets: number[], withBias: boolean,
    negatives: number[] | null = null, correction: number[] | null = null): number {
  return value(tf.tidy(() => loss.compute({
    users: tf.tensor2d(USERS), targets: tf.tensor1d(targets, 'int32'), items: scorer(withBias), numItems: 4,
    negatives: negatives === null ? null : tf.tensor1d(negatives, 'int32'),
    correction: correction === null ? null : tf.tensor1d(correction),
  })));
}


/** The hand-written full-softmax gradient against tfjs's autodiff of the plain formula. */
function expectCeGradientOfPlainFormula(ce = meanSoftmaxCrossEntropy): void {
  const users = tf.variable(tf.tensor2d([[0.3, -1.2, 0.5], [2, 0.1, -0.4], [-0.7, 0.9, 1.1], [0.2, 0.4, -0.9]]));
  const table = tf.variable(tf.tensor2d(Array.from({ length: 18 }, (_, i) => Math.sin(i * 2.3)), [3, 6]));
  const targets = tf.tensor1d([4, 0, 4, 5], 'int32'); // item 4 twice: its table column sums two rows
  const fast = tf.variableGrads(() => ce(users as tf.Tensor2D, table as tf.Tensor2D, targets), [users, table]);
  const plain = tf.variableGrads(() => {
    const logits = tf.matMul(users, table);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(tf.oneHot(targets, 6), logits), 1))) as tf.Scalar;
  }, [users, table]);
  expect(fast.value.dataSync()[0]).toBeCloseTo(plain.value.dataSync()[0], 5);
  for (const name of Object.keys(plain.grads)) {
    const a = fast.grads[name].dataSync();
    const b = plain.grads[name].dataSync();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
  }
  tf.dispose([users, table, targets, fast.value, plain.value, ...Object.values(fast.grads), ...Object.values(plain.grads)]);
}

describe('sequence losses against a hand computation', () => {
  it.each([false, true])('ce (bias %s): mean of logsumexp over items 1..4 minus the target logit', (withBias) => {
    const targets = [3, 1];
    const expected = targets.reduce((sum, t, u) => {
      const lse = Math.log([1, 2, 3, 4].reduce((s, j) => s + Math.exp(logit(u, j, withBias)), 0));
      return sum + lse - logit(u, t, withBias);
    }, 0) / 2;
    expect(compute(crossEntropyLoss(), targets, withBias)).toBeCloseTo(expected, 5);
  });

  it('ce: its hand-written gradient equals autodiff of the plain formula, repeated targets included', () => {
    expectCeGradientOfPlainFormula();
  });

  it('ce: one kernel whose gradient keeps the softmax (one product forward, two backward); the op chain agrees', async () => {
    expectCeGradientOfPlainFormula(meanSoftmaxCrossEntropyByOps);
    const users = tf.variable(tf.ones([3, 2]));
    const table = tf.variable(tf.ones([2, 5]));
    const targets = tf.tensor1d([1, 1, 4], 'int32');
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => meanSoftmaxCrossEntropy(users as tf.Tensor2D, table as tf.Tensor2D, targets), [users, table]);
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(profile.kernels.map((k) => k.name).filter((k) => k === 'DuetSoftmaxCrossEntropy' || k === 'Softmax' || k === 'BatchMatMul'))
      .toEqual(['DuetSoftmaxCrossEntropy', 'BatchMatMul', 'BatchMatMul']);
    expect(profile.newTensors).toBe(0);
    expect(() => meanSoftmaxCrossEntropy(users as tf.Tensor2D, table as tf.Tensor2D, tf.tensor1d([1, 5, 0], 'int32')))
      .toThrow(/target 5 of row 1 is outside \[0, 5\)/);
    tf.dispose([users, table, targets]);
  });

  it('ce: so it does on wasm, leaving no tensor behind', async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    expect(await useBackend('wasm')).toBe('wasm');
    try {
      expectCeGradientOfPlainFormula();
      expectCeGradientOfPlainFormula(meanSoftmaxCrossEntropyByOps);
      const users = tf.variable(tf.ones([3, 2]));
      const table = tf.variable(tf.ones([2, 5]));
      const targets = tf.tensor1d([1, 1, 4], 'int32');
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => meanSoftmaxCrossEntropy(users as tf.Tensor2D, table as tf.Tensor2D, targets), [users, table]);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([users, table, targets]);
    } finally {
      await useBackend('cpu');
    }
  });

  it('bce: −log σ(target) − log(1 − σ(negative)), averaged over rows', () => {
    const expected = (softplus(-logit(0, 3, true)) + softplus(logit(0, 2, true)) +
      softplus(-logit(1, 1, true)) + softplus(logit(1, 4, true))) / 2;
    expect(compute(bceLoss(), [3, 1], true, [2, 4])).toBeCloseTo(expected, 5);
    expect(() => compute(bceLoss(), [3, 1], true, [2])).toThrow(/one negative per row \(2\), got 1/);
  });

  it('sampled: logsumexp over the target and the shared negatives, log(K·Q) subtracted, hits masked', () => {
    // K = 3 shared negatives: items 2, 1, 4. Row 1's target (1) is also drawn: that entry is masked.
    const negatives = [2, 1, 4];
    const correction = [0.1, -0.2, 0.3, 0.4, -0.5]; // log(K·Q): targets 3 and 1, then 2, 1, 4
    const targets = [3, 1];
    const expected = targets.reduce((sum, t, u) => {
      const positive = logit(u, t, false) - correction[u];
      const terms = [positive, ...negatives.map((j, k) => (j === t ? -Infinity : logit(u, j, false) - correction[2 + k]))];
      return sum + Math.log(terms.reduce((s, x) => s + Math.exp(x), 0)) - positive;
    }, 0) / 2;
    const loss = sampledSoftmaxLoss({ negatives: 3 });
    expect(compute(loss, targets, false, negatives, correction)).toBeCloseTo(expected, 5);
    expect(() => compute(loss, targets, false, [2, 1], correction)).toThrow(/3 shared negatives/);
  });
});

describe('samplers', () => {
  let rowRng = createRng(12);
  const context = (counts: number[], own: number[][] = []): SamplingContext => ({
    rng: createRng(11), rowRng: () => rowRng, numItems: counts.length, itemCounts: counts,
    rowItems: (row) => new Set(own[row] ?? []),
  });

  it('bce draws one negative per row outside the row\'s own items', () => {
    const own = [[1, 2, 3], [4, 5]];
    const drawn = bceLoss().sampleNegatives(Int32Array.of(3, 5), context([1, 1, 1, 1, 1, 1], own));
    expect(drawn?.correction).toBeNull();
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      rowRng = createRng(100 + i);
      const { items } = bceLoss().sampleNegatives(Int32Array.of(3, 5), context([1, 1, 1, 1, 1, 1], own))!;
      expect(own[0]).not.toContain(items[0]);
      expect(own[1]).not.toContain(items[1]);
      seen.add(items[0]);
    }
    expect([...seen].sort()).toEqual([4, 5, 6]);
  });

  it('sampled draws K items by (count + 1)^alpha and gives their log(K·Q)', () => {
    const counts = [9, 0, 4, 1]; // weights (alpha 1): 10, 1, 5, 2 of 18
    const loss = sampledSoftmaxLoss({ negatives: 20000, alpha: 1 });
    const { items, correction } = loss.sampleNegatives(Int32Array.of(2), context(counts))!;
    const freq = [1, 2, 3, 4].map((j) => items.filter((i) => i === j).length / items.length);
    [10, 1, 5, 2].forEach((w, j) => expect(freq[j]).toBeCloseTo(w / 18, 2));
    expect(correction?.[0]).toBeCloseTo(Math.log(20000 * 1 / 18), 4); // the target, item 2
    expect(correction?.[1 + items.indexOf(1)]).toBeCloseTo(Math.log(20000 * 10 / 18), 4);
    // alpha 0: uniform.
    const uniform = sampledSoftmaxLoss({ negatives: 4, alpha: 0 }).sampleNegatives(Int32Array.of(1), context(counts))!;
    uniform.correction?.forEach((c) => expect(c).toBeCloseTo(Math.log(4 / 4), 5));
  });
});

describe('createSequenceLoss', () => {
  it('rebuilds a loss from its name and options, and refuses unknown ones', () => {
    const loss = createSequenceLoss('sampled', { negatives: 64 });
    expect(loss.options).toEqual({ negatives: 64, alpha: 1 });
    expect(createSequenceLoss(loss.name, loss.options).options).toEqual(loss.options);
    expect(createSequenceLoss('ce').name).toBe('ce');
    expect(() => createSequenceLoss('softmax' as never)).toThrow(/'ce', 'sampled', 'bce', got "softmax"/);
    expect(() => createSequenceLoss('sampled', { negative: 5 })).toThrow(/unknown option 'negative' of the 'sampled' loss/);
    expect(() => createSequenceLoss('sampled', { negatives: 0 })).toThrow(/'negatives' of the 'sampled' loss must be an integer >= 1/);
    expect(() => createSequenceLoss('ce', { negatives: 5 })).toThrow(/unknown option 'negatives' of the 'ce' loss; known: none/);
  });
});
