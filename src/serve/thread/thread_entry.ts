/**
 * The entry of a generator thread: loads the model folder on its own backend instance (the
 * server's choice), checks and warms it, then runs the batches the server posts, one at a
 * time, in order, answering each with its outputs as a transferred buffer. Node only; started by
 * {@link GeneratorThread}, never imported by the library.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
// Every duet-tf layer class, registered so that any saved model deserialises.
import '../../layers/dynamic_dense';
import '../../layers/gru';
import '../../layers/multi_head_attention';
import '../../layers/parameter_generator';
import '../../layers/position_embedding';
import '../../layers/sequence_mask';
import '../../layers/sequence_pooling';
import '../../layers/target_attention';
import '../../layers/transformer_block';
import type { GeneratorRunner } from '../generator_runner';
import { loadWarmGenerator } from '../warm_generator';
import { EXIT_AFTER_ENV, type FromGeneratorThread, type GeneratorThreadData,
  type ToGeneratorThread } from './protocol';

const port = parentPort;
if (port === null) throw new Error('the duet-tf generator thread must run in a worker thread');
const data = workerData as GeneratorThreadData;
const exitAfter = Number(process.env[EXIT_AFTER_ENV] ?? NaN);
let calls = 0;

function send(message: FromGeneratorThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** The output's buffer, transferable: its own (not a view into a larger or foreign one). */
function own(values: Float32Array): Float32Array {
  const whole = values.byteOffset === 0 && values.buffer instanceof ArrayBuffer &&
    values.byteLength === values.buffer.byteLength;
  return whole ? values : values.slice();
}

async function main(): Promise<void> {
  let runner: GeneratorRunner;
  try {
    const backend = await useBackend(data.backend as BackendChoice);
    const warm = await loadWarmGenerator({ path: data.path }, {
      sequenceLength: data.sequenceLength, vocabSize: data.vocabSize, warmupRows: data.warmupRows,
    }, data.caller);
    runner = warm.runner;
    send({ type: 'ready', info: runner.info, limits: runner.limits, warmupSeconds: warm.warmupSeconds,
      warmupRows: warm.warmupRows, backend });
  } catch (e) {
    send({ type: 'error', message: (e as Error).message });
    port!.close();
    return;
  }
  // One call at a time, in order: a batch posted while another runs waits its turn, so the
  // thread goes from one call to the next without waiting for the server.
  let chain: Promise<void> = Promise.resolve();
  port!.on('message', (message: ToGeneratorThread) => {
    if (message.type !== 'run') return;
    if (++calls > exitAfter) process.exit(70);
    chain = chain.then(async () => {
      const began = performance.now();
      try {
        const out = own(await runner.generatePacked(message.packed));
        send({ type: 'done', id: message.id, values: out, seconds: (performance.now() - began) / 1000 },
          [out.buffer as ArrayBuffer]);
      } catch (e) {
        send({ type: 'failed', id: message.id, message: (e as Error)?.message ?? String(e) });
      }
    });
  });
}

void main();
