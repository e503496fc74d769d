import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { duetWrap } from '../../src/wrap/duet_wrap';
import { fileSystem, loadDuet, saveDuet } from '../../src/wrap/file_io';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxAbsDiff } from '../helpers/round_trip';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-io-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function duetModel() {
  const x = tfl.input({ shape: [4], name: 'x' });
  const h = tfl.layers.dense({ units: 3, activation: 'tanh' }).apply(x);
  const y = tfl.layers.dense({ units: 1 }).apply(h) as tfl.SymbolicTensor;
  return duetWrap(tfl.model({ inputs: x, outputs: y }), { condition: { length: 3 }, generator: { vocabSize: 9, init: 'glorot' } });
}
const X = tf.randomNormal([2, 4], 0, 1, 'float32', 1);
const C = tf.tensor2d([[1, 2, 0], [3, 4, 5]]);

describe('saveDuet / loadDuet', () => {
  it('writes model.json + weights.bin and loads them back with equal predictions', async () => {
    const model = duetModel();
    const dir = path.join(root, 'duet');
    await saveDuet(model, dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    const loaded = await loadDuet(dir);
    expect(maxAbsDiff(model.predict([X, C]) as tf.Tensor, loaded.predict([X, C]) as tf.Tensor)).toBeLessThan(1e-6);
  });

  it('saves the split parts alone, loadable with tf.loadLayersModel', async () => {
    const model = duetModel();
    const { generator, device } = splitDuet(model);
    await generator.save(fileSystem(path.join(root, 'gen')));
    await device.save(fileSystem(path.join(root, 'dev')));
    const g = await tfl.loadLayersModel(fileSystem(path.join(root, 'gen')));
    const d = await tfl.loadLayersModel(fileSystem(path.join(root, 'dev')));
    const y = d.predict([X, g.predict(C) as tf.Tensor]) as tf.Tensor;
    expect(maxAbsDiff(y, model.predict([X, C]) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('reports missing, malformed and truncated files by name', async () => {
    await expect(loadDuet(path.join(root, 'missing'))).rejects.toThrow(`cannot read ${path.join(root, 'missing', 'model.json')}`);
    const bad = path.join(root, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'model.json'), '{ not json');
    await expect(loadDuet(bad)).rejects.toThrow(`${path.join(bad, 'model.json')} is not valid JSON`);
    fs.writeFileSync(path.join(bad, 'model.json'), '{"format": "layers-model"}');
    await expect(loadDuet(bad)).rejects.toThrow("is not a tfjs layers model: it needs 'modelTopology' and 'weightsManifest'");
    const cut = path.join(root, 'cut');
    await saveDuet(duetModel(), cut);
    const weights = fs.readFileSync(path.join(cut, 'weights.bin'));
    fs.writeFileSync(path.join(cut, 'weights.bin'), weights.subarray(0, weights.length - 8));
    await expect(loadDuet(cut)).rejects.toThrow(`hold ${weights.length - 8} bytes but ${path.join(cut, 'model.json')} describes ${weights.length}`);
    fs.rmSync(path.join(cut, 'weights.bin'));
    await expect(loadDuet(cut)).rejects.toThrow('cannot read weights file');
    const json = JSON.parse(fs.readFileSync(path.join(cut, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    fs.writeFileSync(path.join(cut, 'model.json'), JSON.stringify(json));
    await expect(loadDuet(cut)).rejects.toThrow(`names weights file '../../etc/passwd' outside ${cut}`);
  });
});
