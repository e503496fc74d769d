import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { buildSeqLooSplit, type SeqLooSplit } from '../../src/data/protocols/seq_loo';
import { createRng } from '../../src/data/rng';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { readCheckpoint } from '../../src/train/checkpoint/checkpoint_file';
import { setTfAdamState, tfAdamState } from '../../src/train/checkpoint/optimizer_state';
import { trainSequence } from '../../src/train/sequence/train_sequence';
import { train, type TrainOptions } from '../../src/train/train';
import { cloneModel, tinyData, tinyDuetModel, weightValues } from '../eval/models';
import { CHECKPOINT_DIMS, CHECKPOINT_OPTIONS, checkpointData } from './fixtures/checkpoint_fixture';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-ckpt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => path.join(root, `run${++dirs}`);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/checkpoint_run.mts', import.meta.url));

/** Every weight equal to the bit (NaN-free float32 arrays compared element by element). */
function expectSameWeights(a: tfl.LayersModel, b: tfl.LayersModel): void {
  const x = weightValues(a);
  const y = weightValues(b);
  expect(x.length).toBe(y.length);
  x.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(y[i].buffer)), `weight ${i}`).toBe(true));
}

describe('train: checkpoints and resume', () => {
  const data = tinyData({ users: 12, rowsPerUser: 8, ...CHECKPOINT_DIMS, seed: 5 });
  const options: TrainOptions = {
    batchSize: 16, learningRate: 0.03, generatorLearningRate: 0.08, clipNorm: 0.5, seed: 2,
    validationFraction: 0.25, threads: 1,
  };

  it('K epochs + resume to N equals N epochs straight, bit for bit (weights, best epoch, history), both Adams', async () => {
    const base = tinyDuetModel(CHECKPOINT_DIMS);
    const straight = await cloneModel(base);
    const full = await train(straight, { train: data }, { ...options, epochs: 5 });
    const dir = freshDir();
    const first = await cloneModel(base);
    const partial = await train(first, { train: data }, { ...options, epochs: 2, checkpointDir: dir });
    expect(partial.history).toHaveLength(2);
    const saved = await readCheckpoint(dir);
    expect(saved?.epoch).toBe(2);
    expect(saved?.optimizer.generator).not.toBeNull(); // the generators' own Adam is kept too
    expect(saved?.optimizer.main.steps).toBe(2 * Math.ceil(72 / 16));
    // A fresh process would build the model anew: start from the initial weights, not `first`.
    const second = await cloneModel(base);
    const before = tf.memory().numTensors;
    const resumed = await train(second, { train: data }, { ...options, epochs: 5, checkpointDir: dir, resume: true });
    expect(tf.memory().numTensors).toBe(before);
    expectSameWeights(second, straight);
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    expect(resumed.history.map((h) => [h.epoch, h.loss, h.validation?.auc]))
      .toEqual(full.history.map((h) => [h.epoch, h.loss, h.validation?.auc]));
    expect((await readCheckpoint(dir))?.epoch).toBe(5);
    // Training moved the weights (the comparison above is not of two untouched models).
    expect(weightValues(straight)[0]).not.toEqual(weightValues(base)[0]);
  }, 60_000);

  it('refuses: resuming with other options (naming them), a fresh run over a checkpoint, resume without one', async () => {
    const dir = freshDir();
    const model = tinyDuetModel(CHECKPOINT_DIMS);
    await train(model, { train: data }, { ...options, epochs: 1, checkpointDir: dir });
    await expect(train(model, { train: data }, { ...options, epochs: 2, checkpointDir: dir }))
      .rejects.toThrow(/holds a checkpoint \(epoch 1 of a 'train' run\); resume it/);
    await expect(train(model, { train: data }, { ...options, epochs: 2, batchSize: 8, learningRate: 0.01, checkpointDir: dir, resume: true }))
      .rejects.toThrow(/other options: batchSize \(checkpoint 16, now 8\); learningRate \(checkpoint 0.03, now 0.01\)/);
    const otherData = tinyData({ users: 12, rowsPerUser: 8, ...CHECKPOINT_DIMS, seed: 6 });
    await expect(train(model, { train: otherData }, { ...options, epochs: 2, checkpointDir: dir, resume: true }))
      .rejects.toThrow(/other options: data \(checkpoint "72 rows, [0-9a-f]{8}", now "72 rows, [0-9a-f]{8}"\); validation/);
    await expect(train(model, { train: data }, { ...options, epochs: 2, checkpointDir: freshDir(), resume: true }))
      .rejects.toThrow(/no checkpoint to resume in/);
    await expect(train(model, { train: data }, { ...options, epochs: 2, resume: true }))
      .rejects.toThrow(/'resume' passed to 'train' needs 'checkpointDir'/);
  }, 60_000);

  it('refuses a damaged checkpoint, naming the folder', async () => {
    const dir = freshDir();
    await train(tinyDuetModel(CHECKPOINT_DIMS), { train: data }, { ...options, epochs: 1, checkpointDir: dir });
    const bin = path.join(dir, 'tensors.bin');
    const bytes = fs.readFileSync(bin);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(bin, bytes);
    await expect(train(tinyDuetModel(CHECKPOINT_DIMS), { train: data }, { ...options, epochs: 2, checkpointDir: dir, resume: true }))
      .rejects.toThrow(`checkpoint '${dir}' cannot be resumed: tensors.bin does not match checkpoint.json`);
  }, 60_000);

  it('resumes bit-exactly after the child process training on 2 threads is killed mid-epoch', async () => {
    const dir = freshDir();
    const epochs = CHECKPOINT_OPTIONS.epochs;
    // The child SIGKILLs itself after the first step of epoch 3 (its workers die with it).
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(2 * (1 + 3) + 2)],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const signal = await new Promise<string | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
    expect(signal, out).toBe('SIGKILL');
    expect(out).toContain('epoch 2 done');
    expect(out).not.toContain('epoch 3 done');
    expect((await readCheckpoint(dir))?.epoch).toBe(2);

    const resumed = tinyDuetModel(CHECKPOINT_DIMS);
    const result = await train(resumed, { train: checkpointData() }, { ...CHECKPOINT_OPTIONS, checkpointDir: dir, resume: true });
    expect(result.threads).toBe(2); // the checkpoint's thread count, kept by default
    const straight = tinyDuetModel(CHECKPOINT_DIMS);
    await train(straight, { train: checkpointData() }, { ...CHECKPOINT_OPTIONS });
    expectSameWeights(resumed, straight);
    expect(result.history).toHaveLength(epochs);
  }, 120_000);
});

describe('tf.train.adam state (the optimiser on backends without the fused kernel)', () => {
  it('export + import into a fresh Adam continues exactly (moments, beta powers, steps)', () => {
    const w1 = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const w2 = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const loss = (w: tf.Variable) => () => tf.sum(tf.square(tf.sub(w, tf.tensor1d([1, 2, 3])))) as tf.Scalar;
    const a = tf.train.adam(0.1);
    for (let i = 0; i < 7; i++) a.minimize(loss(w1));
    w2.assign(w1);
    const b = tf.train.adam(0.1);
    const state = tfAdamState(a, [w1]);
    expect(state.moments.map((m) => m.index)).toEqual([0]);
    setTfAdamState(b, { ...state, steps: 7 }, [w2], [w2]);
    for (let i = 0; i < 3; i++) {
      a.minimize(loss(w1));
      b.minimize(loss(w2));
    }
    expect(Array.from(w2.dataSync())).toEqual(Array.from(w1.dataSync()));
    tf.dispose([w1, w2]);
    a.dispose();
    b.dispose();
  });
});

/** Users walking a cycle of 30 items from a random start. */
function cycleSplit(users: number, seed: number): SeqLooSplit {
  const rng = createRng(seed);
  return buildSeqLooSplit(Array.from({ length: users }, (_, u) => {
    const start = rng.int(30);
    return { user: `u${u}`, items: Array.from({ length: 4 + rng.int(7) }, (__, j) => `i${(start + j) % 30}`) };
  }));
}

describe('trainSequence: checkpoints and resume', () => {
  const split = cycleSplit(30, 3);
  const build = () => createModel({
    model: 'sasrec', variant: 'duet', numItems: split.numItems, clickLength: 4, dim: 8, numHeads: 2, seed: 2,
  } as CreateModelOptions).model;
  const options = {
    loss: 'sampled' as const, lossOptions: { negatives: 5 }, batchSize: 8, learningRate: 0.01,
    generatorLearningRate: 0.02, seed: 3, patience: 10, threads: 1,
  };

  it('K epochs + resume equals a straight run bit for bit (best epoch, patience counter, negatives)', async () => {
    const straight = build();
    const full = await trainSequence(straight, split, { ...options, maxEpochs: 4 });
    const dir = freshDir();
    await trainSequence(build(), split, { ...options, maxEpochs: 2, checkpointDir: dir });
    const resumedModel = build();
    const resumed = await trainSequence(resumedModel, split, { ...options, maxEpochs: 4, checkpointDir: dir, resume: true });
    expectSameWeights(resumedModel, straight);
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    expect(resumed.best).toEqual(full.best);
    expect(resumed.history.map((h) => h.loss)).toEqual(full.history.map((h) => h.loss));
    await expect(trainSequence(build(), split, { ...options, loss: 'ce', lossOptions: undefined, maxEpochs: 5, checkpointDir: dir, resume: true }))
      .rejects.toThrow(/other options: loss \(checkpoint "sampled", now "ce"\); lossOptions/);
  }, 120_000);

  it('a run stopped by patience resumes as stopped (no more epochs)', async () => {
    const dir = freshDir();
    const first = await trainSequence(build(), split, { ...options, learningRate: 1e-6, patience: 1, maxEpochs: 6, checkpointDir: dir });
    expect(first.stopped).toBe('patience');
    const again = await trainSequence(build(), split, { ...options, learningRate: 1e-6, patience: 1, maxEpochs: 6, checkpointDir: dir, resume: true });
    expect(again.stopped).toBe('patience');
    expect(again.history).toHaveLength(first.history.length);
    expect(again.bestEpoch).toBe(first.bestEpoch);
  }, 120_000);
});
