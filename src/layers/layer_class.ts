/**
 * `isLayerClass`: whether a layer is of a duet-tf layer class, by its registered class name.
 *
 * `duet-tf` and `duet-tf/device` are separate bundles, each with its own copy of the layer
 * classes, and both register them under the same names: whichever registers last builds the
 * layers of every model loaded afterwards. `instanceof` would then reject the other bundle's
 * layers (a device model built by `splitDuet`, or loaded after importing the other entry), so
 * layer checks compare class names: the layers' fields and behaviour are the same either way.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

/** A layer class with its registered name (`static className`). */
export interface NamedLayerClass<T> {
  readonly className: string;
  prototype: T;
}

/**
 * Whether `layer` is an instance of `cls` from either bundle (same registered class name).
 *
 * @example
 * ```ts
 * const dynamic = model.layers.filter((l) => isLayerClass(l, DynamicDense));
 * ```
 */
export function isLayerClass<T>(layer: tfl.layers.Layer | null | undefined,
    cls: NamedLayerClass<T>): layer is tfl.layers.Layer & T {
  return layer !== null && layer !== undefined && typeof layer.getClassName === 'function' &&
    layer.getClassName() === cls.className;
}
