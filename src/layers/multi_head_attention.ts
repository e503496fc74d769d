/**
 * `MultiHeadAttention`: multi-head scaled dot-product attention with explicit padding and causal
 * masks (tfjs-layers 4.22 has no attention layer, and `tf.einsum` has no gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { initializerByName } from './initializers';
import {
  type AttentionVariables, attentionWeightSpecs, computeMultiHeadAttention,
  createAttentionVariables, readAttentionWeights,
} from './ops/attention';
import { checkPositiveInt, checkRate } from './ops/arg_checks';
import { checkRankAndDim, type Shape, splitInputShapes } from './ops/input_shapes';
import { checkMaskShape } from './ops/sequence_mask';
import { dimsDiffer, shapeText } from './ops/shape_text';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'MultiHeadAttention';
const INPUTS = ['query', 'value', 'mask'];

/** Options of {@link MultiHeadAttention}. */
export interface MultiHeadAttentionArgs extends LayerArgs {
  /** Number of attention heads. Default 4. */
  numHeads?: number;
  /** Size of each head. Default: the query's last dimension divided by `numHeads`. */
  keyDim?: number | null;
  /** Whether query position i only sees value positions j <= i. Default false. */
  causal?: boolean;
  /** Dropout rate on the attention probabilities, during training only. Default 0. */
  dropout?: number;
  /** Whether the four projections have biases. Default true. */
  useBias?: boolean;
  /** Initializer of the projection kernels (tfjs-layers camelCase name). Default `'glorotUniform'`. */
  kernelInitializer?: string;
  /** Initializer of the projection biases. Default `'zeros'`. */
  biasInitializer?: string;
}

/**
 * Multi-head attention. Inputs: `x` (self-attention), `[query, value]` or
 * `[query, value, mask]` with `query [batch, Tq, D]`, `value [batch, Tv, Dv]` (keys are projected
 * from `value`) and `mask [batch, Tv]` (non-zero = valid, 0 = padding; see `sequenceMask` to build
 * it from item ids). Output `[batch, Tq, D]`.
 *
 * A query row that can see no valid position (all padding, or padding before it under `causal`)
 * outputs zeros. Padded query rows are not zeroed (only `value` has a mask): multiply by the
 * mask downstream, or use `TransformerBlock`, which does.
 *
 * @example
 * ```ts
 * const x = tfl.input({ shape: [5, 8] });
 * const mask = tfl.input({ shape: [5] });
 * const y = multiHeadAttention({ numHeads: 2, causal: true })
 *   .apply([x, x, mask]) as tfl.SymbolicTensor; // [null, 5, 8]
 * ```
 */
export class MultiHeadAttention extends tfl.layers.Layer {
  static className = 'DuetMultiHeadAttention';

  readonly numHeads: number;
  readonly causal: boolean;
  readonly dropout: number;
  readonly useBias: boolean;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;
  private keyDimArg: number | null;
  private resolvedKeyDim: number | null = null;
  private attention: AttentionVariables<tfl.LayerVariable> | null = null;

  constructor(args: MultiHeadAttentionArgs = {}) {
    super(args);
    this.numHeads = args.numHeads ?? 4;
    checkPositiveInt(this.numHeads, 'numHeads', NAME);
    this.keyDimArg = args.keyDim ?? null;
    if (this.keyDimArg !== null) checkPositiveInt(this.keyDimArg, 'keyDim', NAME);
    this.causal = args.causal ?? false;
    this.dropout = args.dropout ?? 0;
    checkRate(this.dropout, 'dropout', NAME);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    initializerByName(this.kernelInitializer, NAME);
    initializerByName(this.biasInitializer, NAME);
  }

  /** Size of each head (known once built when not given). */
  get keyDim(): number | null {
    return this.keyDimArg ?? this.resolvedKeyDim;
  }

  /** Validates the input shapes; returns [query, value, mask | null]. */
  private shapes(inputShape: Shape | Shape[]): [Shape, Shape, Shape | null] {
    const shapes = splitInputShapes(inputShape, INPUTS, 1, NAME);
    const query = shapes[0];
    const value = shapes[1] ?? query;
    checkRankAndDim(query, 3, '[batch, time, dim]', 'query', NAME);
    checkRankAndDim(value, 3, '[batch, time, dim]', 'value', NAME);
    if (dimsDiffer(query[0], value[0])) {
      throw new Error(`'value' passed to '${NAME}' must have the batch size of 'query' ` +
        `${shapeText(query)}, got ${shapeText(value)}`);
    }
    const mask = shapes[2] ?? null;
    if (mask !== null) checkMaskShape(mask, value, NAME, 'mask', 'value');
    return [query, value, mask];
  }

  override build(inputShape: Shape | Shape[]): void {
    const [query, value] = this.shapes(inputShape);
    const queryDim = query[2] as number;
    let keyDim = this.keyDimArg;
    if (keyDim === null) {
      if (queryDim % this.numHeads !== 0) {
        throw new Error(`'keyDim' of '${NAME}' defaults to the query size / numHeads, but ` +
          `${queryDim} is not divisible by ${this.numHeads}: pass 'keyDim'`);
      }
      keyDim = queryDim / this.numHeads;
    }
    this.resolvedKeyDim = keyDim;
    const specs = attentionWeightSpecs(queryDim, value[2] as number, this.numHeads, keyDim,
      this.useBias);
    this.attention = createAttentionVariables(specs, '', (name, spec) =>
      this.addWeight(name, spec.shape, 'float32', initializerByName(
        spec.kind === 'kernel' ? this.kernelInitializer : this.biasInitializer, NAME)));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [query] = this.shapes(inputShape);
    return [...query];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.shapes(list.map((t) => t.shape));
      const query = list[0] as tf.Tensor3D;
      const value = (list[1] ?? query) as tf.Tensor3D;
      if (this.attention === null || this.keyDim === null) {
        throw new Error(`'${NAME}' '${this.name}' is called before it is built`);
      }
      return computeMultiHeadAttention(query, value, readAttentionWeights(this.attention), {
        numHeads: this.numHeads, keyDim: this.keyDim, mask: list[2] ?? null,
        causal: this.causal, dropout: this.dropout, training: kwargs?.training === true,
        caller: NAME,
      });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      causal: this.causal,
      dropout: this.dropout,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(MultiHeadAttention);

/**
 * Creates a {@link MultiHeadAttention} layer.
 *
 * @example
 * ```ts
 * const attention = multiHeadAttention({ numHeads: 2, dropout: 0.1 });
 * ```
 */
export function multiHeadAttention(args: MultiHeadAttentionArgs = {}): MultiHeadAttention {
  return new MultiHeadAttention(args);
}
