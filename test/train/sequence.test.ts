import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

import { buildSeqLooSplit, seqLooTrainSequence, type SeqLooSplit } from '../../src/data/protocols/seq_loo';
import { createRng } from '../../src/data/rng';
import { evaluateFullRanking } from '../../src/eval/full_ranking/evaluate_full_ranking';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { createSequenceLoss } from '../../src/train/losses/create_loss';
import { createObjective } from '../../src/train/objective';
import '../../src/train/objectives/index';
import { trainingCounts } from '../../src/eval/full_ranking/popularity';
import { sequenceBatches } from '../../src/train/sequence/sequence_batches';
import { sequenceObjective } from '../../src/train/sequence/sequence_objective';
import { trainSequence } from '../../src/train/sequence/train_sequence';
import { duetFromBase } from '../../src/models/duet_from_base';
import { ParameterGenerator } from '../../src/layers/parameter_generator';

/** Users walking a cycle of 30 items from a random start: the next item is always learnable. */
function cycleSplit(users: number, seed: number): SeqLooSplit {
  const rng = createRng(seed);
  return buildSeqLooSplit(Array.from({ length: users }, (_, u) => {
    const start = rng.int(30);
    return { user: `u${u}`, items: Array.from({ length: 4 + rng.int(7) }, (__, j) => `i${(start + j) % 30}`) };
  }));
}

describe('sequenceBatches', () => {
  const split = cycleSplit(40, 1);

  it('gives every training target once per epoch, shifted by one, never a held-out target', () => {
    const loss = createSequenceLoss('ce');
    const expected: string[] = [];
    for (let u = 1; u <= split.numUsers; u++) {
      const s = Array.from(seqLooTrainSequence(split, u)).slice(-4); // clickLength 3: last 4 items
      for (let t = 1; t < s.length; t++) expected.push(`${u}:${s.slice(0, t).join(',')}>${s[t]}`);
    }
    for (const bucket of [true, false]) {
      const got: string[] = [];
      for (const batch of sequenceBatches(split, loss, { clickLength: 3, batchSize: 7, bucket, epoch: 2 })) {
        expect(batch.negatives).toBeNull();
        for (let b = 0; b < batch.size; b++) {
          const row = Array.from(batch.click.subarray(b * batch.time, (b + 1) * batch.time));
          for (let t = 0; t < batch.time; t++) {
            const target = batch.targets[b * batch.time + t];
            if (target > 0) got.push(`${batch.users[b]}:${row.slice(0, t + 1).join(',')}>${target}`);
            else expect(row.slice(t).every((v) => v === 0)).toBe(true); // right padding
          }
        }
        // Cut to the longest row of the batch.
        expect(Math.max(...Array.from(batch.users, (u) => Math.min(3, seqLooTrainSequence(split, u).length - 1)))).toBe(batch.time);
      }
      expect(got.sort()).toEqual([...expected].sort());
    }
  });

  it('is reproducible per (seed, epoch) and draws bce negatives outside the user\'s items', () => {
    const loss = createSequenceLoss('bce');
    const order = (epoch: number) => [...sequenceBatches(split, loss, { clickLength: 3, batchSize: 8, epoch })]
      .map((b) => Array.from(b.users).join(',')).join('|');
    expect(order(0)).toBe(order(0));
    expect(order(0)).not.toBe(order(1));
    for (const batch of sequenceBatches(split, loss, { clickLength: 3, batchSize: 8 })) {
      const rows = Array.from(batch.targets.entries()).filter(([, t]) => t > 0);
      expect(batch.negatives?.items.length).toBe(rows.length);
      rows.forEach(([i], k) => {
        const user = batch.users[Math.floor(i / batch.time)];
        expect(Array.from(seqLooTrainSequence(split, user))).not.toContain(batch.negatives?.items[k]);
      });
    }
  });
});

describe("the 'sequence' objective", () => {
  it('counts the targets an example trains on as its batches do (what the default thread count weighs)', () => {
    const split = cycleSplit(30, 4);
    const { model } = createModel({ model: 'gru4rec', numItems: split.numItems, clickLength: 3, dim: 8, seed: 1 });
    const objective = createObjective({ name: 'sequence', options: { loss: 'ce', clickLength: 3 } });
    const data = { items: split.items, offsets: split.offsets, numUsers: split.numUsers, numItems: split.numItems, itemCounts: trainingCounts(split) };
    let targets = 0;
    let examples = 0;
    for (const batch of objective.batches(model, data, { batchSize: 7, seed: 0, epoch: 0 })) {
      targets += batch.tensors[0].shape[0];
      examples += batch.examples;
      tf.dispose([...batch.inputs, ...batch.tensors]);
    }
    expect(objective.targetsPerExample?.(data)).toBeCloseTo(targets / examples, 10);
    // Sequences of 4–10 items with windows of 3: more than one target per example.
    expect(targets / examples).toBeGreaterThan(1.5);
  });

  it.each(['ce', 'sampled', 'bce'] as const)('%s: two shards of every batch sum to the whole batch', (name) => {
    const split = cycleSplit(30, 4);
    const { model } = createModel({ model: 'gru4rec', numItems: split.numItems, clickLength: 3, dim: 8, seed: 1 });
    const objective = createObjective({ name: 'sequence', options: { loss: name, clickLength: 3, lossOptions: name === 'sampled' ? { negatives: 5 } : {} } });
    const data = { items: split.items, offsets: split.offsets, numUsers: split.numUsers, numItems: split.numItems, itemCounts: trainingCounts(split) };
    objective.check(model, data, 'test');
    const run = (shard?: { index: number; count: number }) => [...objective.batches(model, data, { batchSize: 7, seed: 3, epoch: 1, shard })]
      .map((batch) => {
        if (batch.examples === 0) return { sum: 0, count: 0 };
        const { sum, count } = objective.loss(model, batch);
        const value = sum.dataSync()[0];
        tf.dispose([sum, ...batch.inputs, ...batch.tensors]);
        return { sum: value, count };
      });
    const whole = run();
    const a = run({ index: 0, count: 2 });
    const b = run({ index: 1, count: 2 });
    expect(whole.length).toBe(objective.steps(data, 7));
    whole.forEach((w, i) => {
      expect(a[i].count + b[i].count).toBe(w.count);
      expect(a[i].sum + b[i].sum).toBeCloseTo(w.sum, 3);
    });
  });
});

describe('sequenceObjective', () => {
  it('is the loss of the model\'s per-prefix vectors at the target positions', () => {
    const split = cycleSplit(10, 2);
    const { model } = createModel({ model: 'gru4rec', numItems: split.numItems, clickLength: 3, dim: 8, seed: 1 } as CreateModelOptions);
    const loss = createSequenceLoss('ce');
    const batch = sequenceBatches(split, loss, { clickLength: 3, batchSize: 10 }).next().value!;
    const before = tf.memory().numTensors;
    const value = sequenceObjective(model, batch, loss, false);
    // By hand: each target row through the model on its prefix, softmax over items 1..N.
    let sum = 0;
    let rows = 0;
    tf.tidy(() => {
      for (let b = 0; b < batch.size; b++) {
        for (let t = 0; t < batch.time; t++) {
          const target = batch.targets[b * batch.time + t];
          if (target === 0) continue;
          const prefix = [...batch.click.subarray(b * batch.time, b * batch.time + t + 1), 0, 0, 0].slice(0, 3);
          const logits = (model.predict([
            tf.tensor2d(Array.from({ length: split.numItems }, (_, j) => [j + 1])),
            tf.tile(tf.tensor2d([prefix]), [split.numItems, 1]),
          ]) as tf.Tensor).dataSync();
          const max = Math.max(...logits);
          sum += Math.log(Array.from(logits).reduce((s, l) => s + Math.exp(l - max), 0)) + max - logits[target - 1];
          rows++;
        }
      }
    });
    expect(value.dataSync()[0]).toBeCloseTo(sum / rows, 4);
    value.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('trainSequence', () => {
  const split = cycleSplit(50, 3);
  const build = (extra: Record<string, unknown> = {}) => createModel({
    model: 'sasrec', numItems: split.numItems, clickLength: 4, dim: 8, numHeads: 2, seed: 2, ...extra,
  } as CreateModelOptions).model;

  it.each(['ce', 'sampled', 'bce'] as const)('%s: learns the next item, selects and restores the best epoch', async (name) => {
    const model = createModel({ model: 'gru4rec', numItems: split.numItems, clickLength: 4, dim: 8, seed: 2 }).model;
    const epochs = name === 'bce' ? 9 : 6; // one negative per position learns slowest
    const untrained = await evaluateFullRanking(model, split, { part: 'validation' });
    const logs: number[] = [];
    const result = await trainSequence(model, split, {
      loss: name, lossOptions: name === 'sampled' ? { negatives: 20 } : {}, maxEpochs: epochs, patience: epochs,
      batchSize: 8, learningRate: 0.03, onEpoch: (log) => { logs.push(log.validation?.['ndcg@10'] as number); },
    });
    expect(result.history.length).toBe(epochs);
    expect(result.stopped).toBe('max-epochs');
    const bestValue = Math.max(...logs);
    expect(result.bestEpoch).toBe(logs.indexOf(bestValue) + 1);
    expect(result.best?.['ndcg@10']).toBe(bestValue);
    expect(bestValue).toBeGreaterThan(untrained['ndcg@10'] + 0.1);
    // The model holds the best epoch's weights.
    expect((await evaluateFullRanking(model, split, { part: 'validation' }))['ndcg@10']).toBeCloseTo(bestValue, 6);
    expect(result.loss.name).toBe(name);
  });

  it('stops on patience, on the time budget and on a signal', async () => {
    const patient = await trainSequence(build(), split, { maxEpochs: 30, patience: 1, learningRate: 0.2, batchSize: 32 });
    expect(patient.stopped).toBe('patience');
    expect(patient.history.length).toBeLessThan(50);
    expect(patient.history.length - patient.bestEpoch).toBe(1);
    const timed = await trainSequence(build(), split, { maxEpochs: 50, maxMinutes: 1e-6 });
    expect(timed.stopped).toBe('time');
    expect(timed.history.length).toBe(0);
    const controller = new AbortController();
    controller.abort();
    expect((await trainSequence(build(), split, { signal: controller.signal })).stopped).toBe('aborted');
  });

  it('draws progress, with the thread count, on stderr when it is a terminal', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    try {
      Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
      await trainSequence(build(), split, { maxEpochs: 2, batchSize: 32, progress: true, threads: 1 });
      const text = stderr.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toMatch(/epoch 2 \[=+\] 2\/2 loss \d\.\d{4} best ndcg@10 \d\.\d{4} \(epoch [12]\), 1 thread(?!s)/);
    } finally {
      stderr.mockRestore();
      if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('validateStart: the starting weights are epoch 0, kept when no epoch beats them', async () => {
    const model = createModel({ model: 'gru4rec', numItems: split.numItems, clickLength: 4, dim: 8, seed: 2 }).model;
    await trainSequence(model, split, { maxEpochs: 6, batchSize: 8, learningRate: 0.03 });
    const trained = model.getWeights().map((w) => w.clone());
    const start = await evaluateFullRanking(model, split, { part: 'validation' });
    // A learning rate this large only makes the trained model worse.
    const seen: string[] = [];
    const result = await trainSequence(model, split, {
      maxEpochs: 2, batchSize: 8, learningRate: 5, validateStart: true,
      onStart: (v) => { seen.push(`start ${v['ndcg@10']}`); }, onEpoch: (log) => { seen.push(`epoch ${log.epoch}`); },
    });
    expect(result.start?.['ndcg@10']).toBeCloseTo(start['ndcg@10'], 6);
    expect(seen).toEqual([`start ${result.start?.['ndcg@10']}`, 'epoch 1', 'epoch 2']);
    expect(Math.max(...result.history.map((h) => h.validation?.['ndcg@10'] as number))).toBeLessThan(start['ndcg@10']);
    expect(result.bestEpoch).toBe(0);
    expect(result.best).toEqual(result.start);
    model.getWeights().forEach((w, i) => expect(tf.max(tf.abs(tf.sub(w, trained[i]))).dataSync()[0]).toBe(0));
    // Without it, the best trained epoch is kept, worse than the start.
    const plain = await trainSequence(model, split, { maxEpochs: 1, batchSize: 8, learningRate: 5 });
    expect(plain.start).toBeNull();
    expect(plain.bestEpoch).toBe(1);
    await expect(trainSequence(model, split, { validate: false, validateStart: true })).rejects.toThrow("'validateStart' passed to 'trainSequence' needs 'validate'");
  });

  it('trains a DUET model built from a base with frozen static weights on two threads: only the generator moves', async () => {
    const base = createModel({ model: 'sasrec', numItems: split.numItems, clickLength: 4, dim: 8, numHeads: 2, seed: 2, towerLayers: 0 });
    const { model } = duetFromBase(base.model, { ...base.config, userAdapter: true, generator: { condition: 'positions' } } as never,
      { freezeStatic: true });
    const generator = new Set(model.layers.filter((l) => l instanceof ParameterGenerator).flatMap((l) => l.weights.map((w) => w.name)));
    const before = new Map(model.weights.map((w) => [w.name, w.read().clone()]));
    const result = await trainSequence(model, split, { maxEpochs: 1, batchSize: 16, threads: 2, learningRate: 0.05 });
    expect(result.threads).toBe(2);
    let moved = 0;
    for (const w of model.weights) {
      const d = tf.max(tf.abs(tf.sub(w.read(), before.get(w.name) as tf.Tensor))).dataSync()[0];
      if (generator.has(w.name)) moved += d > 0 ? 1 : 0;
      else expect(d, w.name).toBe(0);
    }
    expect(moved).toBeGreaterThan(0);
  }, 60_000);

  it('refuses what it cannot train', async () => {
    await expect(trainSequence(build({ causal: false, numBlocks: 2 }), split)).rejects.toThrow(/is not causal/);
    await expect(trainSequence(build(), split, { epochs: 3 } as never)).rejects.toThrow(/unknown option 'epochs'/);
    await expect(trainSequence(build(), split, { loss: 'mse' as never })).rejects.toThrow(/'ce', 'sampled', 'bce'/);
    await expect(trainSequence(build(), split, { patience: 0 })).rejects.toThrow(/'patience'/);
  });
});
