/**
 * The entry of a training worker thread: builds a replica of the model (architecture from JSON,
 * weights from the main thread, its own backend instance and optimiser), then runs the epochs the
 * coordinator asks for, step by step in lockstep with the other threads through shared memory.
 * Node only; started by the coordinator, never imported by the library.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { parentPort } from 'node:worker_threads';

import { useBackend } from '../../backend/use_backend';
import type { BackendChoice } from '../../backend/types';
// Every duet-tf layer class, registered so that the architecture deserialises.
import '../../layers/dynamic_dense';
import '../../layers/gru';
import '../../layers/multi_head_attention';
import '../../layers/parameter_generator';
import '../../layers/position_embedding';
import '../../layers/sequence_mask';
import '../../layers/sequence_pooling';
import '../../layers/target_attention';
import '../../layers/transformer_block';
import { createObjective } from '../objective';
import '../objectives/index';
import { Stepper } from '../train_step';
import { BarrierFailed } from './barrier';
import { GradientExchange } from './gradient_exchange';
import type { EpochMessage, InitMessage, WorkerReport } from './protocol';
import { Replica } from './replica';

const port = parentPort;
if (port === null) throw new Error('the duet-tf training worker must run in a worker thread');

let replica: Replica | undefined;
let exchange: GradientExchange | undefined;
let settings: { batchSize: number; seed: number } | undefined;

function report(message: WorkerReport): void {
  port!.postMessage(message);
}

async function init(message: InitMessage): Promise<void> {
  await useBackend(message.backend as BackendChoice);
  let model: tfl.LayersModel;
  try {
    model = await tfl.models.modelFromJSON({ modelTopology: message.modelTopology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
  } catch (err) {
    throw new Error(`cannot rebuild the model in a worker thread (${(err as Error).message}); threads > 1 ` +
      `rebuilds it from model.toJSON(), so every custom layer class must be one of duet-tf's or ` +
      `registered by a module the worker imports; train with threads: 1 otherwise`);
  }
  const shapes = model.trainableWeights.map((w) => w.shape);
  if (JSON.stringify(shapes) !== JSON.stringify(message.trainableShapes)) {
    throw new Error(`the model rebuilt in the worker has trainable weights ${JSON.stringify(shapes)}, ` +
      `the original ${JSON.stringify(message.trainableShapes)}`);
  }
  const values = message.weights.map((w) => tf.tensor(w.values, w.shape, w.dtype));
  model.setWeights(values);
  tf.dispose(values);
  exchange = new GradientExchange(message.exchange);
  const stepper = new Stepper(model, message.stepper, 'train');
  stepper.importState(message.optimizer, 'the main thread');
  const objective = createObjective(message.objective);
  replica = new Replica(model, objective, message.data, stepper, message.shard, exchange);
  settings = { batchSize: message.batchSize, seed: message.seed };
}

/**
 * One epoch in lockstep: contribute, wait for every shard, reduce this shard's chunk, wait again,
 * apply; stop when the main thread says.
 */
function runEpoch({ epoch, firstStep }: EpochMessage): void {
  const r = replica as Replica;
  const x = exchange as GradientExchange;
  const { batchSize, seed } = settings!;
  let step = firstStep;
  for (const batch of r.batches(epoch, batchSize, seed)) {
    try {
      r.contribute(step, batch);
    } finally {
      tf.dispose([...batch.inputs, ...batch.tensors]);
    }
    x.barrier.arriveAndWait();
    r.reduceShare(step);
    x.barrier.arriveAndWait();
    r.applyReduced(step);
    if (x.stopRequested(step)) break;
    step++;
  }
}

port.on('message', (message: InitMessage | EpochMessage) => {
  if (message.type === 'init') {
    init(message).then(() => report({ type: 'ready' }), (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      report({ type: 'error', message: e.message, stack: e.stack });
    });
    return;
  }
  try {
    runEpoch(message);
  } catch (err) {
    if (err instanceof BarrierFailed) return; // another thread failed and reports why
    exchange?.barrier.fail();
    const e = err instanceof Error ? err : new Error(String(err));
    report({ type: 'error', message: e.message, stack: e.stack });
  }
});
