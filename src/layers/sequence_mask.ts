/**
 * `SequenceMask`: item ids `[batch, time]` → the float padding mask the sequence layers take.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { type Shape, splitInputShapes } from './ops/input_shapes';
import { sequenceMask as idsToMask } from './ops/sequence_mask';
import { shapeText } from './ops/shape_text';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'SequenceMask';

/** Options of {@link SequenceMask}: only the common layer options (`name`, ...). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface SequenceMaskArgs extends LayerArgs {}

/**
 * The padding mask of an item-id sequence inside a model graph: input `ids [batch, time]`
 * (0 = padding, on either side), output float32 `[batch, time]`, 1 where `id > 0` and 0 elsewhere.
 * Feed it to `TransformerBlock`, `SequencePooling`, `TargetAttention`, `Gru`, .... No weights.
 *
 * @example
 * ```ts
 * const click = tfl.input({ shape: [30], name: 'click' });
 * const mask = sequenceMaskLayer().apply(click) as tfl.SymbolicTensor; // [null, 30]
 * ```
 */
export class SequenceMask extends tfl.layers.Layer {
  static className = 'DuetSequenceMask';

  constructor(args: SequenceMaskArgs = {}) {
    super(args);
  }

  private check(inputShape: Shape | Shape[]): Shape {
    const [ids] = splitInputShapes(inputShape, ['ids'], 1, NAME);
    if (ids.length !== 2) {
      throw new Error(`'ids' passed to '${NAME}' must have shape [batch, time], got ` +
        shapeText(ids));
    }
    return ids;
  }

  override build(inputShape: Shape | Shape[]): void {
    this.check(inputShape);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...this.check(inputShape)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.check(list.map((t) => t.shape));
      return idsToMask(list[0] as tf.Tensor2D);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
tf.serialization.registerClass(SequenceMask);

/**
 * Creates a {@link SequenceMask} layer (named apart from the `sequenceMask` op it wraps).
 *
 * @example
 * ```ts
 * const mask = sequenceMaskLayer({ name: 'clickMask' });
 * ```
 */
export function sequenceMaskLayer(args: SequenceMaskArgs = {}): SequenceMask {
  return new SequenceMask(args);
}
