/**
 * `stampDeviceModel`: writes the generator's fingerprint and layout into the device part's
 * metadata before it is published, so the device runtime knows which payloads to accept.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { DynamicDense } from '../layers/dynamic_dense';
import { isLayerClass } from '../layers/layer_class';
import { DEVICE_METADATA_KEY, DeviceMetadata } from './device_metadata';
import { GeneratorRunner } from './generator_runner';

/** Options of {@link stampDeviceModel}. */
export interface StampOptions {
  /**
   * The item map to publish with the model (an `IdMap`, e.g. `readItemMap(modelDir)`, or the
   * original ids in index order): the device runtime then takes and returns the catalogue's own
   * ids. Default: none.
   */
  items?: { originals: readonly string[] } | readonly string[] | null;
}

/**
 * Stamps `parts.device` (from {@link splitDuet}) with `{ fingerprint, layout }` of
 * `parts.generator` in its user-defined metadata, which `model.save` writes into `model.json`.
 * When a dynamic layer is not residual, the generator's base parameters (its output for a zero
 * condition) are stored too, as the device's offline fallback; with `items`, the item map.
 * Returns the metadata.
 *
 * @example
 * ```ts
 * const parts = splitDuet(duetModel);
 * stampDeviceModel(parts, { items: await readItemMap('models/duet') });
 * await saveDuet(parts.device, './public/device'); // the browser loads this directory
 * ```
 */
export function stampDeviceModel(parts: { generator: tfl.LayersModel; device: tfl.LayersModel },
    options: StampOptions = {}): DeviceMetadata {
  if (!(parts?.device instanceof tfl.LayersModel)) {
    throw new Error(`'parts' passed to 'stampDeviceModel' must hold 'generator' and 'device' ` +
      `LayersModels (as splitDuet returns)`);
  }
  const runner = new GeneratorRunner(parts.generator);
  try {
    const meta: DeviceMetadata = {
      version: 1, fingerprint: runner.info.fingerprint, layout: runner.info.layout,
    };
    const dynamic = parts.device.layers.filter((l) => isLayerClass(l, DynamicDense)) as DynamicDense[];
    if (dynamic.some((l) => !l.residual)) meta.baseParameters = Array.from(runner.baseParameters());
    const items = options.items;
    if (items !== undefined && items !== null) {
      const ids = Array.isArray(items) ? items : (items as { originals: readonly string[] }).originals;
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
        throw new Error(`'items' passed to 'stampDeviceModel' must be an IdMap or an array of ` +
          `non-empty strings`);
      }
      meta.items = [...ids];
    }
    const existing = (parts.device.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    parts.device.setUserDefinedMetadata({ ...existing, [DEVICE_METADATA_KEY]: meta });
    return meta;
  } finally {
    runner.dispose();
  }
}
