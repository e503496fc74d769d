/**
 * Step 2 of the browser example: bundle the page with esbuild (TF.js included, minified) into
 * the output directory next to the models `prepare.ts` wrote.
 *
 *   npx tsx examples/browser/build.ts [--out DIR]
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const require = createRequire(import.meta.url);

const DEFAULT_OUT = fileURLToPath(new URL('./dist', import.meta.url));
const PAGE = fileURLToPath(new URL('./page/', import.meta.url));

/**
 * Writes `OUT/index.html` and `OUT/app.js`; resolves with the bundle's size in bytes.
 *
 * @example
 * ```ts
 * const bytes = await buildBrowserExample('examples/browser/dist');
 * ```
 */
export async function buildBrowserExample(out: string = DEFAULT_OUT): Promise<number> {
  fs.mkdirSync(out, { recursive: true });
  const result = await build({
    entryPoints: [path.join(PAGE, 'app.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2020',
    sourcemap: true, logLevel: 'warning', metafile: true,
  });
  fs.copyFileSync(path.join(PAGE, 'index.html'), path.join(out, 'index.html'));
  // The wasm backend's binaries, fetched by the page from ./wasm/.
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  fs.mkdirSync(path.join(out, 'wasm'), { recursive: true });
  for (const f of fs.readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) {
    fs.copyFileSync(path.join(wasmDir, f), path.join(out, 'wasm', f));
  }
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('app.js'));
  return output?.[1].bytes ?? 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const out = path.resolve(i >= 0 ? process.argv[i + 1] : DEFAULT_OUT);
  const bytes = await buildBrowserExample(out);
  console.error(`bundled the page into ${path.join(out, 'app.js')} (${(bytes / 1024).toFixed(0)} KiB ` +
    `minified, TF.js core + layers + cpu and wasm backends included)`);
}
