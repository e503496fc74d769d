/**
 * One process of the "independent" training measurement (see `benchTrain`): trains its own copy
 * of a model on one thread, on its own part of the rows, at batch `batchSize / processes`,
 * sharing nothing with its siblings. Its warm-up epoch runs first; it then prints `ready` and
 * waits for `go` on stdin, so that every sibling's timed epoch runs at the same time. Prints one
 * JSON line (`{ samplesPerSecond }`) at the end.
 *
 * Started by bench/train_throughput.ts, never by hand:
 *   tsx bench/train_independent_child.ts '{"model":"sasrec","variant":"base",…}'
 */
import { createInterface } from 'node:readline';

import { type BackendChoice, type ModelKind, type ModelVariant, sliceDataset, train, useBackend } from '../src/index';
import { buildModel, folderBenchData, syntheticBenchData } from './common';

/** What the parent passes as the one argument (JSON). */
export interface IndependentChildSpec {
  model: ModelKind;
  variant: ModelVariant;
  /** This process's batch (the global batch divided by the processes). */
  batchSize: number;
  steps: number;
  /** Which part of the rows this process trains on (0-based), of `processes`. */
  part: number;
  processes: number;
  backend: string;
  /** The `--data` folder, or null for the suite's synthetic default (`syntheticBenchData`). */
  data: string | null;
  quick: boolean;
}

function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      if (line.trim() === 'go') {
        lines.close();
        resolve();
      }
    });
    lines.on('close', () => reject(new Error('the parent closed stdin before "go"')));
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as IndependentChildSpec;
  await useBackend(spec.backend as BackendChoice);
  const data = spec.data === null ? syntheticBenchData(spec.quick) : await folderBenchData(spec.data);
  const n = spec.steps * spec.batchSize;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = (spec.part * n + i) % data.train.size;
  const rows = sliceDataset(data.train, idx);
  const model = buildModel({ model: spec.model, variant: spec.variant, numItems: data.numItems,
    clickLength: data.train.clickLength });
  const result = await train(model, { train: rows }, {
    epochs: 2, batchSize: spec.batchSize, learningRate: 1e-3, threads: 1,
    onEpoch: async (log) => {
      if (log.epoch === 0) {
        process.stdout.write('ready\n');
        await waitForGo();
      }
    },
  });
  const timed = result.history[1];
  process.stdout.write(`${JSON.stringify({ samplesPerSecond: timed.samplesPerSecond })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
