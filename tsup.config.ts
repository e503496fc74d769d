import { defineConfig } from 'tsup';

export default defineConfig([{
  entry: { index: 'src/index.ts', device: 'src/device/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: false,
  // One output serves Node and browsers: Node-only modules are loaded lazily at run time.
  platform: 'neutral',
  target: 'es2020',
  splitting: false,
  external: [/^@tensorflow\//],
}, {
  // The command line: Node only, ESM, with its shebang; the training worker thread, which
  // `train({ threads })` starts from beside the entry that loaded duet-tf (index or cli); and the
  // service's generator thread (`createServer({ generatorThread })`), found the same way.
  entry: {
    cli: 'src/cli/bin.ts', train_worker: 'src/train/parallel/worker_entry.ts',
    serve_worker: 'src/serve/thread/thread_entry.ts',
  },
  format: ['esm'],
  sourcemap: false,
  platform: 'node',
  target: 'node18',
  splitting: false,
  external: [/^@tensorflow\//],
}]);
