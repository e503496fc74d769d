import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadDuet, saveDuet } from '../../src/wrap/file_io';
import { resolveModelFolder, writeModelFolder } from '../../src/wrap/model_folder';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-folder-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = fileURLToPath(new URL('./fixtures/save_and_die.mts', import.meta.url));
// The child, bundled to plain JS once: dozens of processes start in well under a second each.
const CHILD = path.join(root, 'save_and_die.mjs');
beforeAll(async () => {
  await esbuild.build({ entryPoints: [SOURCE], bundle: true, platform: 'node', format: 'esm',
    outfile: CHILD, logLevel: 'silent' });
});

/** A dense model whose weights are all `value` (so a loaded model tells which save it came from). */
function filled(value: number, units = 4, inputs = 3): tfl.LayersModel {
  const x = tfl.input({ shape: [inputs] });
  const y = tfl.layers.dense({ units, name: 'd' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: y });
  model.setWeights(model.getWeights().map((w) => tf.fill(w.shape, value)));
  return model;
}

/** Which of the staged models `dir` holds, by its weights: every value must be that one. */
async function heldValue(dir: string): Promise<number> {
  const model = await loadDuet(dir);
  const values = model.getWeights().map((w) => w.dataSync());
  model.dispose();
  const first = values[0][0];
  expect(values.every((v) => v.every((x) => x === first)), `mixed weights in ${dir}`).toBe(true);
  return first;
}

const siblings = (dir: string) => fs.readdirSync(path.dirname(dir)).filter((f) => f.includes(path.basename(dir)));

describe('writeModelFolder / saveDuet: atomic folders', () => {
  it('writes a new folder, replaces it, keeps other files, leaves nothing behind', async () => {
    const dir = path.join(root, 'basic', 'model');
    await saveDuet(filled(1), dir, { files: { 'notes.txt': 'one' } });
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'notes.txt', 'weights.bin']);
    fs.writeFileSync(path.join(dir, 'README'), 'mine');
    await saveDuet(filled(2), dir);
    expect(await heldValue(dir)).toBe(2);
    expect(fs.readFileSync(path.join(dir, 'README'), 'utf8')).toBe('mine'); // carried over
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('one');
    expect(siblings(dir)).toEqual(['model']); // no temporary folder, no backup
    await expect(saveDuet(filled(3), dir, { overwrite: false })).rejects.toThrow(`'${dir}' already holds a model`);
    expect(await heldValue(dir)).toBe(2);
  });

  it('refuses folders holding folders (a versions root, a project) and files in place of a folder', async () => {
    const versions = path.join(root, 'versions');
    await saveDuet(filled(1), path.join(versions, '1'));
    await expect(saveDuet(filled(2), versions)).rejects.toThrow(`'${versions}' holds folders (1), so it is not a model folder`);
    fs.writeFileSync(path.join(root, 'plain-file'), 'x');
    await expect(writeModelFolder(path.join(root, 'plain-file'), { a: 'b' })).rejects.toThrow('exists and is not a folder');
    await expect(writeModelFolder(path.join(root, 'x'), { '../escape': 'b' })).rejects.toThrow("file name '../escape' must be a plain name");
  });

  it('a save that died between its two renames: loaders read the previous model, the next save recovers', async () => {
    const dir = path.join(root, 'interrupted', 'model');
    await saveDuet(filled(5), dir);
    // The state a kill leaves after 'model → .model.previous' and before the new folder moves in.
    fs.renameSync(dir, path.join(path.dirname(dir), '.model.previous'));
    expect(await resolveModelFolder(dir)).toBe(path.join(path.dirname(dir), '.model.previous'));
    expect(await heldValue(dir)).toBe(5);
    await saveDuet(filled(6), dir);
    expect(await heldValue(dir)).toBe(6);
    expect(siblings(dir)).toEqual(['model']);
  });
});

function runChild(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, ...args], { cwd: REPO, timeout: 60_000 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

describe('kill -9 during a save', () => {
  it('at every file-system call of a save, the folder loads afterwards: the old model or the new one', async () => {
    const staged = path.join(root, 'staged');
    await saveDuet(filled(2), staged, { files: { 'duet-tf.json': '{"new":true}' } });
    // Dry run: how many fs calls a replacing save makes.
    const dry = path.join(root, 'dry', 'model');
    await saveDuet(filled(1), dry);
    const done = await runChild([staged, dry]);
    expect(done.code, done.stderr).toBe(0);
    const { calls } = JSON.parse(done.stdout.trim()) as { calls: number };
    expect(calls).toBeGreaterThan(10);
    expect(await heldValue(dry)).toBe(2);

    const outcomes: number[] = [];
    const killAt = Array.from({ length: calls }, (_, i) => i + 1);
    // Two children at a time: the machine has two cores.
    for (let i = 0; i < killAt.length; i += 2) {
      await Promise.all(killAt.slice(i, i + 2).map(async (k) => {
        const dir = path.join(root, `kill-${k}`, 'model');
        await saveDuet(filled(1), dir, { files: { 'duet-tf.json': '{"new":false}' } });
        const r = await runChild([staged, dir, String(k)]);
        expect(r.signal, `kill at call ${k}: ${r.stderr}`).toBe('SIGKILL');
        const value = await heldValue(dir);
        expect([1, 2]).toContain(value);
        // The description beside the model belongs to the same save as the weights.
        const info = JSON.parse(fs.readFileSync(path.join(await resolveModelFolder(dir), 'duet-tf.json'), 'utf8'));
        expect(info.new).toBe(value === 2);
        outcomes[k - 1] = value;
        // The next save (another process) completes and cleans up what the dead one left
        // (checked at every third point, to keep the test short).
        if (k % 3 === 0) {
          await saveDuet(filled(3), dir);
          expect(await heldValue(dir)).toBe(3);
          expect(siblings(dir)).toEqual(['model']);
        }
      }));
    }
    // Early kills keep the old model, late ones have the new one: both moments were hit.
    expect(outcomes[0]).toBe(1);
    expect(outcomes.at(-1)).toBe(2);
  }, 120_000);

  it('SIGKILL at random moments while a large model is saved over and over: it always loads', async () => {
    const a = path.join(root, 'big-a');
    const b = path.join(root, 'big-b');
    const big = (v: number) => filled(v, 1000, 1000); // 1M weights, 4 MB
    await saveDuet(big(1), a);
    await saveDuet(big(2), b);
    const seen = new Set<number>();
    for (const delayMs of [60, 250, 600]) {
      const dir = path.join(root, `big-${delayMs}`, 'model');
      await saveDuet(big(7), dir);
      const child = spawn(process.execPath, [CHILD, '--loop', a, b, dir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => { err += String(d); });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the saver exited (${code}) early: ${err}`)));
      });
      await new Promise((r) => setTimeout(r, delayMs));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const value = await heldValue(dir);
      expect([1, 2, 7]).toContain(value);
      seen.add(value);
    }
    expect(seen.size).toBeGreaterThan(0);
  }, 120_000);
});
