import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
const entry = path.join(src, 'device/index.ts');

/** Every source file the device entry reaches through relative imports, and its bare imports. */
function importGraph(start: string) {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = fs.readFileSync(file, 'utf8');
    // Type-only imports are erased from the bundle, so they do not count.
    const re = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\bfrom\s+)?['"]([^'"]+)['"]/gm;
    for (const m of text.matchAll(re)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), `${spec}.ts`));
      else bare.add(spec);
    }
  };
  visit(start);
  return { files: [...files].map((f) => path.relative(src, f)), bare: [...bare] };
}

describe('duet-tf/device is browser-safe', () => {
  it('reaches only TF.js and browser-safe sources: no Node modules, training, data readers or server', () => {
    const { files, bare } = importGraph(entry);
    expect(bare.sort()).toEqual(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers']);
    for (const f of files) {
      // From wrap/ only the two-tower analysis, the weight checks and the helpers they use (TF.js only).
      expect(f, f).toMatch(/^(device|layers|wrap\/(two_tower|graph|weight_version|finite_weights)|serve\/(payload|crc32|half|device_metadata))[/.]/);
      expect(f).not.toMatch(/^(train|eval|data|backend|cli)\//);
      // Code only: comments may name what the code avoids.
      const text = fs.readFileSync(path.join(src, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(text, f).not.toMatch(/\bBuffer\b|\brequire\(|['"]node:|\bprocess\./);
    }
  });

  it('bundles for the browser (TF.js external): no Node built-in resolved, size reported', async () => {
    const result = await build({
      entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser',
      external: ['@tensorflow/*'], write: false, metafile: true, logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => !i.startsWith('src/'))).toEqual([]);
    const bytes = result.outputFiles[0].contents.length;
    console.log(`duet-tf/device browser bundle (minified, TF.js external): ${bytes} bytes, ${inputs.length} source files`);
    // Small: the runtime, payload decoding and the layer classes a device model needs.
    expect(bytes).toBeLessThan(120_000);
  });
});
