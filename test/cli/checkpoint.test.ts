import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../../src/cli/main';
import type { CliIO } from '../../src/cli/output';
import { synthetic } from '../../src/data/synthetic';
import { writeDuetSplit } from '../../src/data/duet_split_io';
import { loadDuet } from '../../src/wrap/file_io';
import { cli, lastJson } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cli-ckpt-'));
const data = path.join(dir, 'data');
const run = ['--model', 'gru4rec', '--variant', 'duet', '--duet-from', 'base', '--data', data, '--epochs', '3',
  '--batch', '16', '--dim', '8', '--lr', '0.01', '--validation-fraction', '0.25', '--threads', '1', '--backend', 'cpu'];

beforeAll(async () => {
  await writeDuetSplit(data, synthetic({ users: 12, items: 30, seed: 2, testNeg: 4, maxSeq: 8, clickLength: 6, triggerLength: 3 }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The CLI in-process, stopped (as by a crash) when stderr receives a line matching `stopAt`. */
async function interrupted(stopAt: RegExp, ...argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const io: CliIO = {
    stdout: () => {},
    stderr: (t) => {
      stderr += t;
      if (stopAt.test(t)) throw new Error('interrupted');
    },
    isTTY: false,
  };
  let code: number;
  try {
    code = await runCli(argv, io);
  } catch {
    code = -1;
  }
  return { code, stderr };
}

async function weights(model: string): Promise<Buffer[]> {
  const m = await loadDuet(model);
  const values = m.getWeights().map((w) => Buffer.from(w.dataSync().buffer));
  m.dispose();
  return values;
}

describe('duet-tf train --checkpoint-dir / --resume', () => {
  it('an interrupted two-phase run resumes to exactly the model of an uninterrupted one, and then removes its checkpoint', async () => {
    const straight = path.join(dir, 'straight');
    expect((await cli('train', ...run, '--out', straight)).code).toBe(0);
    expect(fs.existsSync(path.join(dir, '.straight.checkpoint'))).toBe(false); // removed after the save

    const out = path.join(dir, 'resumed');
    const ckpt = path.join(dir, 'ckpt');
    // Stopped in the DUET phase after its epoch 1 (the base phase complete, checkpointed).
    const first = await interrupted(/gru4rec duet: epoch 1\/3/, 'train', ...run, '--out', out, '--checkpoint-dir', ckpt);
    expect(first.code).not.toBe(0);
    expect(fs.readdirSync(ckpt).sort()).toEqual(['base', 'cli.json', 'duet']);
    expect(fs.existsSync(out)).toBe(false);

    const again = await cli('train', ...run, '--out', out, '--checkpoint-dir', ckpt);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`'${ckpt}' holds the checkpoint of an interrupted run; pass --resume`);
    const other = await cli('train', ...run, '--dim', '6', '--out', out, '--checkpoint-dir', ckpt, '--resume');
    expect(other.stderr).toMatch(/--resume: the checkpoint in .* is of a run with other settings: model \(checkpoint .*"dim":8/);
    const otherLr = await cli('train', ...run, '--lr', '0.02', '--out', out, '--checkpoint-dir', ckpt, '--resume');
    expect(otherLr.stderr).toContain('learningRate (checkpoint 0.01, now 0.02)');

    const resumed = await cli('train', ...run, '--out', out, '--checkpoint-dir', ckpt, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/base: epoch/); // the base phase was not trained again
    expect(resumed.stderr).not.toMatch(/duet: epoch 1\/3/);
    expect(resumed.stderr).toMatch(/duet: epoch 2\/3/);
    expect(await weights(out)).toEqual(await weights(straight));
    const info = (p: string) => JSON.parse(fs.readFileSync(path.join(p, 'duet-tf.json'), 'utf8')).training;
    expect(info(out).history.map((h: { loss: number }) => h.loss)).toEqual(info(straight).history.map((h: { loss: number }) => h.loss));
    expect(fs.existsSync(ckpt)).toBe(false);
  }, 120_000);

  it('--resume without a checkpoint, and --force starting over, are explicit', async () => {
    const out = path.join(dir, 'none');
    const r = await cli('train', ...run, '--epochs', '1', '--out', out, '--resume');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--resume: no checkpoint in '${path.join(dir, '.none.checkpoint')}'`);
    const ckpt = path.join(dir, 'ckpt2');
    await interrupted(/base: epoch 1\/1/, 'train', ...run, '--epochs', '1', '--out', out, '--checkpoint-dir', ckpt);
    expect(fs.existsSync(path.join(ckpt, 'base', 'checkpoint.json'))).toBe(true);
    const forced = await cli('train', ...run, '--epochs', '1', '--out', out, '--checkpoint-dir', ckpt, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/base: epoch 1\/1/);
  }, 120_000);
});

describe('duet-tf compare --checkpoint-dir / --resume', () => {
  const compare = ['compare', '--model', 'gru4rec', '--variants', 'base,duet', '--duet-from', 'base', '--data', data,
    '--epochs', '2', '--batch', '16', '--dim', '8', '--lr', '0.01', '--threads', '1', '--backend', 'cpu', '--json'];
  const metrics = (stdout: string) => stdout.trim().split('\n').map((line) => {
    const row = JSON.parse(line) as Record<string, unknown>;
    return [row.variant, row.auc, row.logloss, row['ndcg@10'], row.best_epoch];
  });

  it('an interrupted compare resumes to the same results as an uninterrupted one', async () => {
    const straight = await cli(...compare);
    expect(straight.code, straight.stderr).toBe(0);
    const ckpt = path.join(dir, 'compare-ckpt');
    const first = await interrupted(/gru4rec duet: epoch 1\/2/, ...compare, '--checkpoint-dir', ckpt);
    expect(first.code).not.toBe(0);
    expect(fs.readdirSync(ckpt).sort()).toEqual(['base', 'cli.json', 'duet']);
    const refused = await cli(...compare, '--checkpoint-dir', ckpt);
    expect(refused.stderr).toContain('holds the checkpoint of an interrupted run; pass --resume to continue it, or remove the folder');
    const resumed = await cli(...compare, '--checkpoint-dir', ckpt, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/base: epoch/);
    expect(metrics(resumed.stdout)).toEqual(metrics(straight.stdout));
    expect(lastJson(resumed.stdout).variant).toBe('duet');
    expect(fs.existsSync(ckpt)).toBe(false);
    expect((await cli(...compare, '--resume')).stderr).toContain('compare: --resume needs --checkpoint-dir');
  }, 120_000);
});
