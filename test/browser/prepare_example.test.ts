/**
 * The browser example's model step without a browser: its own synthetic model (what
 * `npm run example:browser` trains) and the refusal of a folder that is not a CLI model.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { exportForBrowser, prepareBrowserExample } from '../../examples/browser/prepare';
import { useBackend } from '../../src/backend/use_backend';
import { readDeviceMetadata } from '../../src/serve/device_metadata';
import { loadDuet } from '../../src/wrap/file_io';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-browser-prepare-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('browser example: model step', () => {
  it('trains its own model, saves the stamped device part, the full model and a catalogue by genre', async () => {
    const out = path.join(root, 'own');
    // On wasm: the cpu backend the tests run on trains SASRec ~10x slower.
    await useBackend('wasm');
    let prepared;
    try {
      prepared = await prepareBrowserExample({ out, users: 20, items: 60, genres: 3, epochs: 0, log: () => undefined });
    } finally {
      await useBackend('cpu');
    }
    expect(prepared.auc.base).toBeNull();
    expect(prepared.auc.duet).toBeGreaterThan(0);
    expect(prepared.catalogue).toHaveLength(60);
    expect(new Set(prepared.catalogue.map((i) => i.genre)).size).toBe(3);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'service.json'), 'utf8'))).toEqual({ modelDir: prepared.fullDir });
    const device = await loadDuet(prepared.deviceDir);
    expect(readDeviceMetadata(device)?.fingerprint).toBe(prepared.fingerprint);
    const before = tf.memory().numTensors;
    device.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  }, 120_000);

  it('refuses a model folder the CLI did not write', async () => {
    const empty = fs.mkdtempSync(path.join(root, 'empty-'));
    await expect(exportForBrowser({ modelDir: empty, out: path.join(root, 'x') }))
      .rejects.toThrow(/has no duet-tf\.json: pass a model folder written by 'duet-tf train'/);
  });
});
