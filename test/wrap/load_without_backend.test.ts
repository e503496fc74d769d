/**
 * `loadDuet` in a process where no backend was chosen (a user's first script: no useBackend
 * call): it picks one as useBackend('auto') does instead of failing with tfjs's
 * "No backend found in registry".
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { saveDuet } from '../../src/wrap/file_io';
import { tinyDuet } from '../serve/tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-load-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('loadDuet before a backend is chosen', () => {
  it('picks one (auto) and loads', async () => {
    const dir = path.join(root, 'model');
    await saveDuet(tinyDuet().duet, dir);
    const script = `import * as tf from '@tensorflow/tfjs-core';
      import { loadDuet } from './src/index.ts';
      const model = await loadDuet(${JSON.stringify(dir)});
      console.log(JSON.stringify({ backend: tf.getBackend(), inputs: model.inputs.length }));`;
    const out = execFileSync('npx', ['tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ backend: 'wasm', inputs: 2 });
  }, 60_000);
});
