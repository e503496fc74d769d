import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// src/backend is bundled the way tsup.config.ts bundles the package (ESM + CJS, tfjs external)
// and for the browser; the Node bundles then run in plain Node processes, outside vitest.

const ROOT = path.resolve(__dirname, '../..');
const ENTRY = path.join(ROOT, 'src/backend/index.ts');
const TF_PACKAGES = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu', 'tfjs-backend-wasm'];

let dir: string;

/** A folder holding the bundles and a node_modules with the tfjs packages (symlinked). */
function makeApp(withFakeTfjsNode: boolean): string {
  const app = fs.mkdtempSync(path.join(dir, 'app-'));
  const scope = path.join(app, 'node_modules/@tensorflow');
  fs.mkdirSync(scope, { recursive: true });
  for (const name of TF_PACKAGES) {
    fs.symlinkSync(path.join(ROOT, 'node_modules/@tensorflow', name), path.join(scope, name), 'dir');
  }
  if (withFakeTfjsNode) {
    // Stands in for tfjs-node: registers a 'tensorflow' backend (a cpu backend under that name).
    fs.mkdirSync(path.join(scope, 'tfjs-node'));
    fs.writeFileSync(path.join(scope, 'tfjs-node/package.json'), '{"name":"@tensorflow/tfjs-node","main":"index.js"}');
    fs.writeFileSync(
      path.join(scope, 'tfjs-node/index.js'),
      "const tf = require('@tensorflow/tfjs-core');\n" +
        "const { MathBackendCPU } = require('@tensorflow/tfjs-backend-cpu');\n" +
        "tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);\n",
    );
  }
  for (const file of ['index.cjs', 'index.js']) fs.copyFileSync(path.join(dir, file), path.join(app, file));
  return app;
}

const SCRIPT = `
const out = [];
out.push(await useBackend('auto'));
out.push(await useBackend('wasm'));
const g = tf.grad((t) => tf.sum(tf.gather(t, tf.tensor1d([1, 1, 0], 'int32'))))(tf.ones([3, 2]));
out.push(Array.from(g.dataSync()).join(','));
out.push(await useBackend('cpu'));
console.log(JSON.stringify(out));
`;

function run(app: string, format: 'cjs' | 'esm'): string[] {
  const file = path.join(app, format === 'cjs' ? 'run.cjs' : 'run.mjs');
  const body = format === 'cjs'
    ? "const tf = require('@tensorflow/tfjs-core');\nrequire('@tensorflow/tfjs-layers');\n" +
      "const { useBackend } = require('./index.cjs');\n(async () => {" + SCRIPT + '})();\n'
    : "import * as tf from '@tensorflow/tfjs-core';\nimport '@tensorflow/tfjs-layers';\n" +
      "import { useBackend } from './index.js';\n" + SCRIPT;
  fs.writeFileSync(file, body);
  const stdout = execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8' });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as string[];
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-bundle-'));
  // The settings of tsup.config.ts: one neutral output per format, tfjs packages external.
  const common = {
    entryPoints: [ENTRY],
    bundle: true,
    logLevel: 'silent' as const,
    platform: 'neutral' as const,
    target: 'es2020',
    external: ['@tensorflow/*'],
  };
  await esbuild.build({ ...common, format: 'cjs', outfile: path.join(dir, 'index.cjs') });
  await esbuild.build({ ...common, format: 'esm', outfile: path.join(dir, 'index.js') });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('bundled builds', () => {
  it.each(['cjs', 'esm'] as const)('%s build without tfjs-node: auto picks wasm, gathers train', (format) => {
    expect(run(makeApp(false), format)).toEqual(['wasm', 'wasm', '1,1,2,2,0,0', 'cpu']);
  });

  it.each(['cjs', 'esm'] as const)('%s build finds an installed tfjs-node and prefers it', (format) => {
    expect(run(makeApp(true), format)[0]).toBe('tensorflow');
  });

  it('bundles for the browser without resolving any Node module or tfjs-node', async () => {
    const result = await esbuild.build({
      entryPoints: [ENTRY],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      logLevel: 'silent',
      metafile: true,
      outfile: path.join(dir, 'browser.js'),
    });
    expect(result.errors).toEqual([]);
    const ours = Object.entries(result.metafile.inputs).filter(([file]) => file.startsWith('src/'));
    expect(ours.length).toBeGreaterThan(5);
    for (const [file, input] of ours) {
      for (const imp of input.imports) {
        // Only tfjs packages and our own files; no node:*, fs, path, module or tfjs-node.
        expect(imp.path, `${file} imports ${imp.path}`).toMatch(/^(src\/|node_modules\/@tensorflow\/tfjs-(core|backend-cpu|backend-wasm)\/)/);
      }
    }
  });
});
