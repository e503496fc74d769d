/**
 * Short fingerprints of what a training run depends on beyond its options (its data, its model's
 * weight layout), so that a checkpoint is only resumed by the run it belongs to. Browser-safe.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

type Numeric = Int32Array | Float32Array | Uint8Array | Uint32Array;

/**
 * FNV-1a (32-bit) over the 32-bit words of `arrays` (a byte array's bytes one by one), mixed with
 * each array's length: equal inputs give equal hashes on every platform.
 *
 * @example
 * ```ts
 * hashArrays([Int32Array.of(1, 2, 3)]); // the same 8 hex digits on every run
 * ```
 */
export function hashArrays(arrays: readonly Numeric[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x;
    h = Math.imul(h, 0x01000193);
  };
  for (const a of arrays) {
    mix(a.length);
    const words = a instanceof Uint8Array ? a : new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < words.length; i++) mix(words[i]);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * What identifies a model's weights for a checkpoint: their count, total size and a hash of
 * their shapes and dtypes (not their values, nor names, which differ between processes).
 *
 * @example
 * ```ts
 * modelFingerprint(model); // '14 weights, 20610 values, shapes 5c0e21aa'
 * ```
 */
export function modelFingerprint(model: tfl.LayersModel): string {
  const weights = model.weights;
  const layout = weights.map((w) => `${w.dtype}[${w.shape.join(',')}]${w.trainable ? 't' : ''}`).join(';');
  const values = weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return `${weights.length} weights, ${values} values, shapes ${hashArrays([new TextEncoder().encode(layout)])}`;
}

/**
 * A fingerprint of training data: a size and a hash of its columns.
 *
 * @example
 * ```ts
 * dataFingerprint(1000, [ds.user, ds.target, ds.label]); // '1000 rows, 0d1e5f3a'
 * ```
 */
export function dataFingerprint(size: number, columns: readonly Numeric[], unit = 'rows'): string {
  return `${size} ${unit}, ${hashArrays(columns)}`;
}
