/**
 * The device runtime speaks the catalogue's own item ids (from the item map stamped into the
 * device model, or the `items` option), builds a reference model's inputs by itself, and a page
 * without a backend gets one line saying what to import.
 */
import { execFileSync } from 'node:child_process';

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';

import { createDeviceRuntime } from '../../src/device/device_runtime';
import { FetchLike } from '../../src/device/fetch_parameters';
import { createModel, type CreateModelOptions } from '../../src/models/create_model';
import { IdMap } from '../../src/data/id_map';
import { createServer } from '../../src/serve/server';
import { stampDeviceModel } from '../../src/serve/stamp_device_model';
import { splitDuet } from '../../src/wrap/split_duet';
import { maxDiff } from '../serve/tiny_duet';

const L = 5;
const ITEMS = Array.from({ length: 30 }, (_, i) => `sku-${String(i + 1).padStart(3, '0')}`);

function sasrec() {
  const { model } = createModel({
    model: 'sasrec', variant: 'duet', numItems: 30, clickLength: L, dim: 8, numHeads: 2, seed: 5,
    generator: { init: 'glorot', encoder: 'mean' },
  } as CreateModelOptions);
  return { duet: model, ...splitDuet(model) };
}

/** The whole DUET model's scores for candidates (indices) after a history (indices). */
function wholeScores(duet: tfl.LayersModel, candidates: number[], history: number[]): number[] {
  const click = [...history, 0, 0, 0, 0, 0].slice(0, L);
  const n = candidates.length;
  return tf.tidy(() => Array.from((duet.predict([tf.tensor2d(candidates, [n, 1]),
    tf.tile(tf.tensor2d([click]), [n, 1])]) as tf.Tensor).dataSync()));
}

describe('DeviceRuntime with the catalogue\'s own ids', () => {
  it('takes and returns the stamped item map\'s ids; sends indices to the service; builds SASRec inputs itself', async () => {
    const parts = sasrec();
    const meta = stampDeviceModel(parts, { items: new IdMap(ITEMS) });
    expect(meta.items).toEqual(ITEMS);
    // The service has the map too (items.tsv beside the model): the runtime must say its ids are indices.
    const server = await createServer({ model: parts.generator, items: ITEMS });
    const { url } = await server.listen(0);
    const bodies: unknown[] = [];
    const recording: FetchLike = (u, init) => {
      bodies.push(JSON.parse(init.body));
      return fetch(u, init) as ReturnType<FetchLike>;
    };
    try {
      const rt = await createDeviceRuntime({ model: parts.device, serviceUrl: url, format: 'f32', fetch: recording });
      expect(rt.observe('me', ['sku-004', 'sku-009', 'sku-002'])).toBe(3);
      expect(rt.observe('me', ['brand-new-item'])).toBe(0); // newer than the model: counted, not recorded
      expect(rt.stats().unknownItems).toBe(1);
      expect(rt.history('me')).toEqual(['sku-004', 'sku-009', 'sku-002']);
      const candidates = ['sku-003', 'sku-008', 'sku-012', 'sku-017', 'sku-021', 'sku-025', 'sku-029'];
      const { items, parameters } = await rt.topK('me', candidates, 3);
      expect(parameters.source).toBe('service');
      expect(bodies).toEqual([{ sequence: [4, 9, 2], ids: 'internal' }]);
      const want = wholeScores(parts.duet, [3, 8, 12, 17, 21, 25, 29], [4, 9, 2]);
      const order = candidates.map((id, i) => ({ id, s: want[i] })).sort((a, b) => b.s - a.s).slice(0, 3);
      expect(items.map((i) => i.id)).toEqual(order.map((o) => o.id));
      expect(maxDiff(items.map((i) => i.score), order.map((o) => o.s))).toBeLessThan(1e-5);
      await expect(rt.topK('me', ['sku-003', 'nope'], 1)).rejects.toThrow(
        /'candidates' passed to 'DeviceRuntime\.topK' hold 1 id\(s\) the model does not know: "nope"/);
      expect(() => rt.observe('me', [null as unknown as string])).toThrow(/must be item ids \(the catalogue's ids/);
      rt.dispose();
    } finally {
      await server.close();
    }
  });

  it('without an item map ids are indices; the items option gives one; a model without target/click inputs asks for `inputs`', async () => {
    const parts = sasrec();
    const offline: FetchLike = async () => { throw new Error('offline'); };
    const common = { model: parts.device, serviceUrl: 'http://x.test', fingerprint: 'aaaaaaaaaaaaaaaa', fetch: offline };
    const bare = await createDeviceRuntime(common);
    bare.observe('u', [4, 9]);
    expect(bare.history('u')).toEqual([4, 9]);
    const byIndex = await bare.topK('u', [3, 8, 12], 2);
    await expect(bare.topK('u', ['sku-003'], 1)).rejects.toThrow(/this runtime has no item map: ids are indices 1\.\.N/);
    const mapped = await createDeviceRuntime({ ...common, items: ITEMS });
    mapped.observe('u', ['sku-004', 'sku-009']);
    const byId = await mapped.topK('u', ['sku-003', 'sku-008', 'sku-012'], 2);
    expect(byId.items.map((i) => i.score)).toEqual(byIndex.items.map((i) => i.score));
    expect(byId.items.map((i) => i.id)).toEqual(byIndex.items.map((i) => ITEMS[(i.id as number) - 1]));
    await expect(createDeviceRuntime({ ...common, items: ['a', ''] })).rejects.toThrow(/'items' passed to 'createDeviceRuntime' must be an array/);
    bare.dispose();
    mapped.dispose();
  });

  it('says in one line which import is missing when no backend is loaded', () => {
    const script = `import { createDeviceRuntime } from './src/device/index.ts';
      try { await createDeviceRuntime({ model: 'http://x.test/model.json', serviceUrl: 'http://x.test', fetch: async () => null }); }
      catch (e) { console.log(e.message); }`;
    const out = execFileSync('npx', ['tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
    expect(out).toBe("'createDeviceRuntime': no TensorFlow.js backend is loaded; import one first, e.g. import " +
      "'@tensorflow/tfjs-backend-webgl' or '@tensorflow/tfjs-backend-cpu' (or '@tensorflow/tfjs-backend-wasm' and " +
      "await tf.setBackend('wasm'))");
  });
});
