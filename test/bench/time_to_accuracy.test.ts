import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { timeToAccuracy, type TimeToAccuracyOptions } from '../../bench/time_to_accuracy';
import { buildSeqLooSplit } from '../../src/data/protocols/seq_loo';
import { writeSeqLooSplit } from '../../src/data/protocols/seq_loo_io';
import { createRng } from '../../src/data/rng';

// `npm run bench:time-to-accuracy`: a tiny loo folder whose next item is learnable (users walk a
// cycle of 30 items), so a small SASRec passes a low target within a few epochs.
describe('bench:time-to-accuracy (smoke)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-tta-'));
  const data = path.join(dir, 'loo');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    const rng = createRng(3);
    const users = Array.from({ length: 60 }, (_, u) => {
      const start = rng.int(30);
      return { user: `u${u}`, items: Array.from({ length: 5 + rng.int(6) }, (__, j) => `i${(start + j) % 30}`) };
    });
    await writeSeqLooSplit(data, buildSeqLooSplit(users, { maxLen: 6, source: 'cycle' }));
  });
  const options = (extra: Partial<TimeToAccuracyOptions>): TimeToAccuracyOptions => ({
    data, target: 0.2, threads: 1, maxMinutes: 5, maxEpochs: 12, patience: 12, batchSize: 16,
    learningRate: 0.03, dim: 8, loss: 'ce', modelOptions: { numBlocks: 1, dropout: 0 }, seed: 0,
    log: () => {}, ...extra,
  });

  it('stops at the first epoch whose validation NDCG@10 reaches the target, and says when', async () => {
    const before = tf.memory().numTensors;
    const r = JSON.parse(JSON.stringify(await timeToAccuracy(tf.getBackend(), options({})))) as Record<string, unknown>;
    expect(r.bench).toBe('time-to-accuracy');
    expect(r.backend).toBe('cpu');
    expect(r.reached).toBe(true);
    expect(r.stopped).toBe('target');
    const ndcg = r.valNdcg10 as number[];
    const epoch = r.epochToTarget as number;
    expect(r.epochs).toBe(epoch); // nothing trained after the target was reached
    expect(ndcg).toHaveLength(epoch);
    expect(ndcg[epoch - 1]).toBeGreaterThanOrEqual(0.2);
    expect(ndcg.slice(0, -1).every((v) => v < 0.2)).toBe(true);
    const epochSeconds = r.epochSeconds as number[];
    expect(epochSeconds).toHaveLength(epoch);
    expect((r.validationSeconds as number[])).toHaveLength(epoch);
    const trainSum = epochSeconds.reduce((s, v) => s + v, 0);
    expect(r.trainSecondsToTarget as number).toBeCloseTo(trainSum, 2);
    expect(r.secondsToTarget as number).toBeGreaterThanOrEqual(r.trainSecondsToTarget as number);
    expect(r.threads).toBe(1);
    expect(typeof r.load1).toBe('number');
    expect(r.params).toMatchObject({ model: 'sasrec', target: 0.2, clickLength: 6, threads: 1 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports an unreached target as such', async () => {
    const r = await timeToAccuracy(tf.getBackend(), options({ target: 1, maxEpochs: 2 }));
    expect(r).toMatchObject({ reached: false, stopped: 'max-epochs', secondsToTarget: null, epochToTarget: null, epochs: 2 });
    expect((r.valNdcg10 as number[]).every((v) => v < 1)).toBe(true);
  });

  it('runs as a script printing one JSON line, and names bad options', () => {
    const run = (...args: string[]) => spawnSync('npx', ['tsx', 'bench/time_to_accuracy.ts', ...args],
      { encoding: 'utf8', timeout: 60_000 });
    const r = run('--data', data, '--backend', 'cpu', '--threads', '1', '--target', '1', '--max-epochs', '1',
      '--dim', '8', '--batch', '32', '--model-options', '{"numBlocks":1}');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(rec).toMatchObject({ bench: 'time-to-accuracy', backend: 'cpu', epochs: 1, reached: false, threads: 1 });
    expect(r.stderr).toMatch(/epoch 1: loss \d\.\d{4} val ndcg@10 \d\.\d{4} .*1 thread, load/);
    const bad = run('--data', data, '--target', '0');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--target must be in \(0, 1\], got '0'/);
    expect(run().stderr).toMatch(/--data DIR is required/);
  });
});
