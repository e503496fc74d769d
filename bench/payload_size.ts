/**
 * Payload size: the bytes per user a device receives (`payloadByteLength`), for each DUET model
 * and format (f32, f16, int8), alone (batch 1) and amortised over a batch of 256 users.
 */
import {
  encodePayload, type ModelKind, PAYLOAD_FORMATS, type PayloadFormat, payloadByteLength, splitDuet,
} from '../src/index';
import { type BenchContext, type BenchRecord, buildModel, freeModel, MODEL_KINDS, record } from './common';

/** Options of {@link benchPayload}. */
export interface PayloadBenchOptions {
  models: readonly ModelKind[];
  formats: readonly PayloadFormat[];
  /** The batch over which the header is amortised. */
  batch: number;
}

/** Defaults: every DUET model, every format, batch 256. */
export function payloadBenchDefaults(): PayloadBenchOptions {
  return { models: MODEL_KINDS, formats: PAYLOAD_FORMATS, batch: 256 };
}

/** Payload bytes per user for each model and format. */
export async function benchPayload(ctx: BenchContext, overrides: Partial<PayloadBenchOptions> = {}):
    Promise<BenchRecord[]> {
  const o = { ...payloadBenchDefaults(), ...overrides };
  const out: BenchRecord[] = [];
  for (const kind of o.models) {
    const duet = buildModel({ model: kind, variant: 'duet', numItems: ctx.data.numItems,
      clickLength: ctx.data.test.clickLength });
    try {
      const { layout } = splitDuet(duet);
      for (const format of o.formats) {
        const single = payloadByteLength(layout, { format, batch: 1 });
        // The formula and the encoder must agree.
        const encoded = encodePayload(new Float32Array(layout.total), {
          layout, fingerprint: '0123456789abcdef', format, batch: 1,
        }).byteLength;
        if (encoded !== single) {
          throw new Error(`bench: payloadByteLength says ${single} bytes, encodePayload wrote ${encoded}`);
        }
        const batched = payloadByteLength(layout, { format, batch: o.batch });
        out.push(record(ctx, 'payload', {
          model: kind, format, batch: o.batch,
          layers: layout.slices.map((s) => `${s.name} ${s.inputDim}x${s.outputDim}`),
        }, {
          paramsPerUser: layout.total,
          bytesPerUser: single,
          bytesPerUserInBatch: Number((batched / o.batch).toFixed(2)),
        }));
      }
    } finally {
      freeModel(duet);
    }
  }
  return out;
}
