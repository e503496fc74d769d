/**
 * `SequencePooling`: `[batch, time, dim]` → `[batch, dim]` by the last valid state, a masked mean
 * or a masked max.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { sequenceInputShapes, type Shape } from './ops/input_shapes';
import { gatherLastValid } from './ops/last_valid';
import { maskedMax, maskedMean } from './ops/masked_pooling';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'SequencePooling';

/** How {@link SequencePooling} reduces the time axis. */
export type PoolingMode = 'last' | 'mean' | 'max';

/** Options of {@link SequencePooling}. */
export interface SequencePoolingArgs extends LayerArgs {
  /**
   * `'last'`: the state at the last valid position (left- or right-padded alike); `'mean'`: the
   * mean over valid positions; `'max'`: the element-wise max over valid positions.
   * Default `'last'`.
   */
  mode?: PoolingMode;
}

/**
 * Pools a sequence over time. Inputs `x [batch, time, dim]` or `[x, mask]` with
 * `mask [batch, time]` (non-zero = valid, 0 = padding); without a mask every position is valid.
 * Output `[batch, dim]`; a row with no valid position gives zeros in every mode.
 *
 * @example
 * ```ts
 * const x = tfl.input({ shape: [5, 8] });
 * const mask = tfl.input({ shape: [5] });
 * const last = sequencePooling({ mode: 'last' }).apply([x, mask]); // [null, 8]
 * ```
 */
export class SequencePooling extends tfl.layers.Layer {
  static className = 'DuetSequencePooling';

  readonly mode: PoolingMode;

  constructor(args: SequencePoolingArgs = {}) {
    super(args);
    this.mode = args.mode ?? 'last';
    if (!['last', 'mean', 'max'].includes(this.mode)) {
      throw new Error(`'mode' passed to '${NAME}' must be 'last', 'mean' or 'max', got ` +
        `'${String(this.mode)}'`);
    }
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | null] {
    return sequenceInputShapes(inputShape, NAME);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.shapes(inputShape);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = this.shapes(inputShape);
    return [x[0], x[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.shapes(list.map((t) => t.shape));
      const x = list[0] as tf.Tensor3D;
      const mask = (list[1] ?? tf.ones([x.shape[0], x.shape[1]])) as tf.Tensor2D;
      if (this.mode === 'last') return gatherLastValid(x, mask);
      return this.mode === 'mean' ? maskedMean(x, mask) : maskedMax(x, mask);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { mode: this.mode, ...super.getConfig() };
  }
}
tf.serialization.registerClass(SequencePooling);

/**
 * Creates a {@link SequencePooling} layer.
 *
 * @example
 * ```ts
 * const pool = sequencePooling({ mode: 'mean' });
 * ```
 */
export function sequencePooling(args: SequencePoolingArgs = {}): SequencePooling {
  return new SequencePooling(args);
}
