/**
 * What a device model carries about its generator: the fingerprint payloads must match, the
 * parameter layout, and, for non-residual models, the base parameters to fall back on. Stored in
 * the model's `userDefinedMetadata` under `duet`, so it travels inside `model.json`.
 * Browser-safe: the device runtime reads it.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { PayloadLayer } from './payload';

/**
 * Key of the DUET entry in a device model's user-defined metadata.
 *
 * @example
 * ```ts
 * const entry = (device.getUserDefinedMetadata() as Record<string, unknown>)[DEVICE_METADATA_KEY];
 * ```
 */
export const DEVICE_METADATA_KEY = 'duet';

/** The DUET entry of a device model's user-defined metadata. */
export interface DeviceMetadata {
  /** Version of this entry's shape (1). */
  version: 1;
  /** Fingerprint of the generator the device part belongs to. */
  fingerprint: string;
  /** The generated layers, in parameter-vector order. */
  layout: PayloadLayer[];
  /**
   * Parameters to use when the service cannot be reached, when the all-zero vector is not a
   * sensible default (non-residual dynamic layers). Absent: all zeros.
   */
  baseParameters?: number[];
  /**
   * The catalogue's own item ids in index order (`items[i]` is index `i + 1`), so the device
   * runtime takes and returns them. Absent: ids are the model's indices.
   */
  items?: string[];
}

/**
 * The DUET entry of a device model's metadata, or null when it has none; throws when the entry
 * is malformed.
 *
 * @example
 * ```ts
 * const device = await tfl.loadLayersModel('/models/device/model.json');
 * const meta = readDeviceMetadata(device); // { version: 1, fingerprint: '…', layout: [...] }
 * ```
 */
export function readDeviceMetadata(model: tfl.LayersModel): DeviceMetadata | null {
  const all = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const entry = all?.[DEVICE_METADATA_KEY] as Partial<DeviceMetadata> | undefined;
  if (entry === undefined) return null;
  const bad = (what: string) => new Error(`the '${DEVICE_METADATA_KEY}' metadata of model ` +
    `'${model.name}' is malformed: ${what}`);
  if (entry === null || typeof entry !== 'object') throw bad('not an object');
  if (entry.version !== 1) throw bad(`version ${String(entry.version)} (expected 1)`);
  if (typeof entry.fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(entry.fingerprint)) {
    throw bad(`'fingerprint' must be 16 hex digits`);
  }
  if (!Array.isArray(entry.layout) || entry.layout.length === 0 || entry.layout.some((l) =>
    typeof l?.name !== 'string' || !Number.isInteger(l.inputDim) || !Number.isInteger(l.outputDim) ||
    typeof l.useBias !== 'boolean')) {
    throw bad(`'layout' must be a non-empty array of { name, inputDim, outputDim, useBias }`);
  }
  if (entry.baseParameters !== undefined && (!Array.isArray(entry.baseParameters) ||
      entry.baseParameters.some((v) => typeof v !== 'number' || !Number.isFinite(v)))) {
    throw bad(`'baseParameters' must be an array of finite numbers`);
  }
  if (entry.items !== undefined && (!Array.isArray(entry.items) ||
      entry.items.some((id) => typeof id !== 'string' || id === ''))) {
    throw bad(`'items' must be an array of non-empty strings`);
  }
  return entry as DeviceMetadata;
}
