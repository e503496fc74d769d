/**
 * `PositionEmbedding`: a learned embedding per sequence position, added to `[batch, time, dim]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { initializerByName } from './initializers';
import { checkPositiveInt } from './ops/arg_checks';
import { sequenceInputShapes, type Shape } from './ops/input_shapes';
import { binaryMask } from './ops/sequence_mask';
import { shapeText } from './ops/shape_text';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'PositionEmbedding';

/** Options of {@link PositionEmbedding}. */
export interface PositionEmbeddingArgs extends LayerArgs {
  /** Number of learned positions; inputs may be shorter. Default: the input's time length. */
  maxLength?: number | null;
  /** Initializer of the table (tfjs-layers camelCase name). Default `'glorotUniform'`. */
  initializer?: string;
}

/**
 * Adds a learned embedding `P[t]` to position `t` of `x [batch, time, dim]`, `t` counted from the
 * start of the padded array (as the authors' code does). On right-padded rows (duet-seq-v1)
 * position t is the t-th oldest item of the window; on left-padded rows, as in the original
 * SASRec, the most recent item always sits at the last position. Inputs `x` or `[x, mask]`;
 * with a `mask [batch, time]` (non-zero = valid) padded positions of the output are zero.
 *
 * @example
 * ```ts
 * const x = tfl.input({ shape: [5, 8] });
 * const y = positionEmbedding({ maxLength: 5 }).apply(x) as tfl.SymbolicTensor; // [null, 5, 8]
 * ```
 */
export class PositionEmbedding extends tfl.layers.Layer {
  static className = 'DuetPositionEmbedding';

  readonly initializer: string;
  private maxLengthArg: number | null;
  private table: tfl.LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs = {}) {
    super(args);
    this.maxLengthArg = args.maxLength ?? null;
    if (this.maxLengthArg !== null) checkPositiveInt(this.maxLengthArg, 'maxLength', NAME);
    this.initializer = args.initializer ?? 'glorotUniform';
    initializerByName(this.initializer, NAME);
  }

  /** Number of learned positions (known once built when not given). */
  get maxLength(): number | null {
    return this.maxLengthArg ?? (this.table === null ? null : this.table.shape[0] as number);
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | null] {
    const [x, mask] = sequenceInputShapes(inputShape, NAME);
    const max = this.maxLength;
    if (max !== null && x[1] !== null && x[1] > max) {
      throw new Error(`'x' passed to '${NAME}' must have at most maxLength = ${max} time steps, ` +
        `got ${shapeText(x)}`);
    }
    return [x, mask];
  }

  override build(inputShape: Shape | Shape[]): void {
    const [x] = this.shapes(inputShape);
    const length = this.maxLengthArg ?? x[1];
    if (length === null) {
      throw new Error(`'maxLength' of '${NAME}' must be given when the input's time length is ` +
        `unknown, got input ${shapeText(x)}`);
    }
    this.table = this.addWeight('embeddings', [length, x[2] as number], 'float32',
      initializerByName(this.initializer, NAME));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...this.shapes(inputShape)[0]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.shapes(list.map((t) => t.shape));
      if (this.table === null) {
        throw new Error(`'${NAME}' '${this.name}' is called before it is built`);
      }
      const x = list[0];
      const [, time, dim] = x.shape as [number, number, number];
      const positions = tf.slice(this.table.read(), [0, 0], [time, dim]);
      const y = tf.add(x, tf.reshape(positions, [1, time, dim]));
      return list[1] === undefined ? y : tf.mul(y, tf.expandDims(binaryMask(list[1]), 2));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { maxLength: this.maxLength, initializer: this.initializer, ...super.getConfig() };
  }
}
tf.serialization.registerClass(PositionEmbedding);

/**
 * Creates a {@link PositionEmbedding} layer.
 *
 * @example
 * ```ts
 * const positions = positionEmbedding({ maxLength: 50 });
 * ```
 */
export function positionEmbedding(args: PositionEmbeddingArgs = {}): PositionEmbedding {
  return new PositionEmbedding(args);
}
