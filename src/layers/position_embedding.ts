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
  /**
   * Where positions are counted from. `'start'`: position t is index t of the array (the
   * authors'). `'end'`: counted back from the row's newest valid item, which always gets the last
   * position `maxLength − 1`, the one before it `maxLength − 2`, and so on, wherever the padding
   * is: what the original SASRec's left padding to `maxLength` does, on right-padded rows too.
   * With `'end'` the positions of a row depend on how many valid items it holds, so a prefix of
   * a row is not embedded as that prefix alone would be. Default `'start'`.
   */
  origin?: PositionOrigin;
  /**
   * Multiply `x` by this before adding the positions (SASRec scales its item embeddings by √dim,
   * so they are not drowned by the position table). Default 1.
   */
  scale?: number;
}

/**
 * Where {@link PositionEmbedding} counts positions from: the start of the array or the row's
 * newest valid item.
 *
 * @example
 * ```ts
 * const origin: PositionOrigin = 'end';
 * ```
 */
export type PositionOrigin = 'start' | 'end';
export const POSITION_ORIGINS: readonly PositionOrigin[] = ['start', 'end'];

/**
 * Adds a learned embedding `P[t]` to position `t` of `x [batch, time, dim]` (times `scale`), `t` counted from the
 * start of the padded array (as the authors' code does) or, with `origin: 'end'`, back from each
 * row's newest valid item (as SASRec's left padding does). With `'start'`, on right-padded rows
 * (duet-seq-v1) position t is the t-th oldest item of the window; on left-padded rows the most
 * recent item always sits at the last position, as it does on any row with `'end'`. Inputs `x`
 * or `[x, mask]`; with a `mask [batch, time]` (non-zero = valid) padded positions of the output
 * are zero.
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
  readonly origin: PositionOrigin;
  readonly scale: number;
  private maxLengthArg: number | null;
  private table: tfl.LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs = {}) {
    super(args);
    this.maxLengthArg = args.maxLength ?? null;
    if (this.maxLengthArg !== null) checkPositiveInt(this.maxLengthArg, 'maxLength', NAME);
    this.initializer = args.initializer ?? 'glorotUniform';
    initializerByName(this.initializer, NAME);
    this.scale = args.scale ?? 1;
    if (typeof this.scale !== 'number' || !(this.scale > 0) || !Number.isFinite(this.scale)) {
      throw new Error(`'scale' passed to '${NAME}' must be a positive number, got ${String(args.scale)}`);
    }
    this.origin = args.origin ?? 'start';
    if (!POSITION_ORIGINS.includes(this.origin)) {
      throw new Error(`'origin' passed to '${NAME}' must be 'start' or 'end', got ${JSON.stringify(args.origin)}`);
    }
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
      const x = this.scale === 1 ? list[0] : tf.mul(list[0], this.scale);
      const [batch, time, dim] = x.shape as [number, number, number];
      const mask = list[1] === undefined ? null : binaryMask(list[1]);
      let y: tf.Tensor;
      if (this.origin === 'start') {
        const positions = tf.slice(this.table.read(), [0, 0], [time, dim]);
        y = tf.add(x, tf.reshape(positions, [1, time, dim]));
      } else {
        // Valid position t gets maxLength − 1 − (valid positions after t); padding is clipped, then zeroed.
        const last = (this.maxLength as number) - 1;
        const valid = mask ?? tf.ones([batch, time]);
        const after = tf.sub(tf.sum(valid, 1, true), tf.cumsum(valid, 1));
        const index = tf.cast(tf.clipByValue(tf.sub(last, after), 0, last), 'int32');
        y = tf.add(x, tf.reshape(tf.gather(this.table.read(), tf.reshape(index, [-1])), [batch, time, dim]));
      }
      return mask === null ? y : tf.mul(y, tf.expandDims(mask, 2));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { maxLength: this.maxLength, initializer: this.initializer, origin: this.origin, scale: this.scale, ...super.getConfig() };
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
