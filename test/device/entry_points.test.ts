/**
 * `duet-tf` and `duet-tf/device` are two bundles, each with its own copy of the layer classes
 * (tsup builds them without shared chunks). Both register the classes under the same names, so
 * models built or loaded through one bundle hold the other's layer objects. Built here as
 * tsup.config.ts builds them and run in plain Node, in both import orders: each entry must accept
 * the other's models.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const TF_PACKAGES = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu'];
let app: string;

beforeAll(async () => {
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-entries-'));
  const scope = path.join(app, 'node_modules/@tensorflow');
  fs.mkdirSync(scope, { recursive: true });
  for (const name of TF_PACKAGES) {
    fs.symlinkSync(path.join(ROOT, 'node_modules/@tensorflow', name), path.join(scope, name), 'dir');
  }
  // The settings of tsup.config.ts: neutral platform, no code splitting, tfjs external.
  const common = {
    bundle: true, logLevel: 'silent' as const, platform: 'neutral' as const, target: 'es2020',
    external: ['@tensorflow/*'], mainFields: ['module', 'main'],
  };
  for (const [entry, name] of [['src/index.ts', 'index'], ['src/device/index.ts', 'device']]) {
    await esbuild.build({ ...common, entryPoints: [path.join(ROOT, entry)], format: 'esm', outfile: path.join(app, `${name}.mjs`) });
    await esbuild.build({ ...common, entryPoints: [path.join(ROOT, entry)], format: 'cjs', outfile: path.join(app, `${name}.cjs`) });
  }
}, 60_000);

afterAll(() => fs.rmSync(app, { recursive: true, force: true }));

// Builds a tiny DUET model with duet-tf, then hands its parts (in memory and saved) to the
// device entry and back. Prints one JSON line of findings.
const BODY = `
await tf.setBackend('cpu');
const x = tfl.input({ shape: [4], name: 'features' });
const h = tfl.layers.dense({ units: 3, activation: 'relu', name: 'hidden',
  kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(x);
const y = tfl.layers.dense({ units: 1, name: 'out', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(h);
const base = tfl.model({ inputs: x, outputs: y });
const wrapped = duet.duetWrap(base, { condition: { length: 3 }, residual: false, generator: { vocabSize: 10, seed: 3 } });
const features = tf.tensor2d([[0.5, -1, 2, 0.25]]);
const history = tf.tensor2d([[1, 2, 0]]);
// duetWrap starts out predicting like the original (the generator's static part got the weights).
const startGap = Math.abs(base.predict(features).dataSync()[0] - wrapped.predict([features, history]).dataSync()[0]);
const parts = duet.splitDuet(wrapped);
duet.stampDeviceModel(parts);
const offline = async () => { throw new Error('offline'); };
const found = [];
const inMemory = await device.createDeviceRuntime({ model: parts.device, serviceUrl: 'http://127.0.0.1:9', fetch: offline });
found.push(inMemory.layout.map((l) => l.name).join('+'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-entry-model-'));
await duet.saveDuet(parts.device, path.join(dir, 'device'));
await duet.saveDuet(wrapped, path.join(dir, 'full'));
const loaded = await device.createDeviceRuntime({ model: duet.fileSystem(path.join(dir, 'device')), serviceUrl: 'http://127.0.0.1:9', fetch: offline });
found.push(loaded.layout.map((l) => l.name).join('+'));
// A model loaded by duet-tf after both imports is split and stamped by duet-tf again.
const again = duet.splitDuet(await duet.loadDuet(path.join(dir, 'full')));
found.push(duet.stampDeviceModel(again).layout.map((l) => l.name).join('+'));
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ found, startGap }));
`;

function run(name: string, format: 'esm' | 'cjs', order: Array<'index' | 'device'>): { found: string[]; startGap: number } {
  const names = { index: 'duet', device: 'device' };
  const file = path.join(app, `${name}.${format === 'esm' ? 'mjs' : 'cjs'}`);
  const text = format === 'esm'
    ? `${order.map((e) => `import * as ${names[e]} from './${e}.mjs';`).join('\n')}\n` +
      "import * as tf from '@tensorflow/tfjs-core';\nimport * as tfl from '@tensorflow/tfjs-layers';\n" +
      "import '@tensorflow/tfjs-backend-cpu';\nimport * as fs from 'node:fs';\nimport * as os from 'node:os';\n" +
      `import * as path from 'node:path';\n${BODY}`
    : `${order.map((e) => `const ${names[e]} = require('./${e}.cjs');`).join('\n')}\n` +
      "const tf = require('@tensorflow/tfjs-core');\nconst tfl = require('@tensorflow/tfjs-layers');\n" +
      "require('@tensorflow/tfjs-backend-cpu');\nconst fs = require('node:fs');\nconst os = require('node:os');\n" +
      `const path = require('node:path');\n(async () => {${BODY}})().catch((e) => { console.error(e.message); process.exit(1); });\n`;
  fs.writeFileSync(file, text);
  const stdout = execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

describe('duet-tf and duet-tf/device accept each other\'s models, in either import order', () => {
  for (const [format, order] of [['esm', ['index', 'device']], ['esm', ['device', 'index']], ['cjs', ['device', 'index']]] as const) {
    it(`${format}, ${order.join(' then ')}`, () => {
      const result = run(`${format}-${order.join('-')}`, format, [...order]);
      expect(result.found).toEqual(['hidden+out', 'hidden+out', 'hidden+out']);
      expect(result.startGap).toBeLessThan(1e-6);
    }, 60_000);
  }
});
