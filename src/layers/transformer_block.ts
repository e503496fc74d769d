/**
 * `TransformerBlock`: one SASRec-style self-attention encoder block that owns all its weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { initializerByName } from './initializers';
import { checkPositiveInt, checkRate } from './ops/arg_checks';
import {
  type AttentionVariables, attentionWeightSpecs, computeMultiHeadAttention,
  createAttentionVariables, readAttentionWeights,
} from './ops/attention';
import { sequenceInputShapes, type Shape } from './ops/input_shapes';
import { layerNorm } from './ops/layer_norm';
import { binaryMask } from './ops/sequence_mask';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'TransformerBlock';

/** Where the block applies LayerNorm. */
export type NormPlacement = 'pre' | 'post';
/** Activation of the feed-forward hidden layer. */
export type FfnActivation = 'relu' | 'gelu';

/** Options of {@link TransformerBlock}. */
export interface TransformerBlockArgs extends LayerArgs {
  /** Number of attention heads. Default 4. */
  numHeads?: number;
  /** Size of each head. Default: the input size divided by `numHeads`. */
  keyDim?: number | null;
  /** Feed-forward hidden size as a multiple of the input size. Default 4 (SASRec itself uses 1). */
  ffnMultiplier?: number;
  /** Feed-forward hidden activation, `'relu'` or `'gelu'` (exact, erf-based). Default `'relu'`. */
  activation?: FfnActivation;
  /**
   * `'pre'`: `x + f(LN(x))` for both sub-layers, as SASRec does (it then expects one final
   * LayerNorm after the last block, which the model adds). `'post'`: `LN(x + f(x))`, as the
   * original Transformer. Default `'pre'`.
   */
  norm?: NormPlacement;
  /** Whether position i only attends to positions j <= i (SASRec: true). Default false. */
  causal?: boolean;
  /** Dropout on attention probabilities and on both residual branches, training only. Default 0. */
  dropout?: number;
  /** LayerNorm epsilon. Default 1e-6. */
  epsilon?: number;
  /** Whether projections and feed-forward layers have biases. Default true. */
  useBias?: boolean;
  /** Initializer of every kernel, a tfjs-layers camelCase name. Default `'glorotUniform'`. */
  kernelInitializer?: string;
  /** Initializer of every bias. Default `'zeros'`. */
  biasInitializer?: string;
}

const SQRT1_2 = Math.SQRT1_2;

function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
}

/**
 * One encoder block: multi-head self-attention + residual, position-wise feed-forward
 * (`dim → ffnMultiplier·dim → dim`) + residual, LayerNorm before (`'pre'`) or after (`'post'`)
 * each sub-layer, dropout on the attention probabilities and on each residual branch.
 * Inputs `x [batch, time, dim]` or `[x, mask]` with `mask [batch, time]` (non-zero = valid):
 * padded positions are never attended to and the output is zero there. Output `[batch, time, dim]`.
 *
 * @example
 * ```ts
 * const x = tfl.input({ shape: [5, 8] });
 * const mask = tfl.input({ shape: [5] });
 * const y = transformerBlock({ numHeads: 2, causal: true })
 *   .apply([x, mask]) as tfl.SymbolicTensor; // [null, 5, 8]
 * ```
 */
export class TransformerBlock extends tfl.layers.Layer {
  static className = 'DuetTransformerBlock';

  readonly numHeads: number;
  readonly ffnMultiplier: number;
  readonly activation: FfnActivation;
  readonly norm: NormPlacement;
  readonly causal: boolean;
  readonly dropout: number;
  readonly epsilon: number;
  readonly useBias: boolean;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;
  private keyDimArg: number | null;
  private resolvedKeyDim: number | null = null;
  private attention: AttentionVariables<tfl.LayerVariable> | null = null;
  private weightsByName: Record<string, tfl.LayerVariable> = {};

  constructor(args: TransformerBlockArgs = {}) {
    super(args);
    this.numHeads = args.numHeads ?? 4;
    checkPositiveInt(this.numHeads, 'numHeads', NAME);
    this.keyDimArg = args.keyDim ?? null;
    if (this.keyDimArg !== null) checkPositiveInt(this.keyDimArg, 'keyDim', NAME);
    this.ffnMultiplier = args.ffnMultiplier ?? 4;
    checkPositiveInt(this.ffnMultiplier, 'ffnMultiplier', NAME);
    this.activation = args.activation ?? 'relu';
    if (this.activation !== 'relu' && this.activation !== 'gelu') {
      throw new Error(`'activation' passed to '${NAME}' must be 'relu' or 'gelu', got ` +
        `'${String(this.activation)}'`);
    }
    this.norm = args.norm ?? 'pre';
    if (this.norm !== 'pre' && this.norm !== 'post') {
      throw new Error(`'norm' passed to '${NAME}' must be 'pre' or 'post', got ` +
        `'${String(this.norm)}'`);
    }
    this.causal = args.causal ?? false;
    this.dropout = args.dropout ?? 0;
    checkRate(this.dropout, 'dropout', NAME);
    this.epsilon = args.epsilon ?? 1e-6;
    if (!(this.epsilon > 0)) {
      throw new Error(`'epsilon' passed to '${NAME}' must be positive, got ` +
        String(this.epsilon));
    }
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

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | null] {
    return sequenceInputShapes(inputShape, NAME);
  }

  override build(inputShape: Shape | Shape[]): void {
    const [x] = this.shapes(inputShape);
    const dim = x[2] as number;
    let keyDim = this.keyDimArg;
    if (keyDim === null) {
      if (dim % this.numHeads !== 0) {
        throw new Error(`'keyDim' of '${NAME}' defaults to the input size / numHeads, but ` +
          `${dim} is not divisible by ${this.numHeads}: pass 'keyDim'`);
      }
      keyDim = dim / this.numHeads;
    }
    this.resolvedKeyDim = keyDim;
    const kernel = (): ReturnType<typeof initializerByName> =>
      initializerByName(this.kernelInitializer, NAME);
    const bias = (): ReturnType<typeof initializerByName> =>
      initializerByName(this.biasInitializer, NAME);
    this.attention = createAttentionVariables(
      attentionWeightSpecs(dim, dim, this.numHeads, keyDim, this.useBias), 'attention_',
      (name, spec) => this.addWeight(name, spec.shape, 'float32',
        spec.kind === 'kernel' ? kernel() : bias()));
    const hidden = this.ffnMultiplier * dim;
    const add = (name: string, shape: number[], init: ReturnType<typeof initializerByName>) => {
      this.weightsByName[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('attention_norm_gamma', [dim], tfl.initializers.ones());
    add('attention_norm_beta', [dim], tfl.initializers.zeros());
    add('ffn_kernel1', [dim, hidden], kernel());
    if (this.useBias) add('ffn_bias1', [hidden], bias());
    add('ffn_kernel2', [hidden, dim], kernel());
    if (this.useBias) add('ffn_bias2', [dim], bias());
    add('ffn_norm_gamma', [dim], tfl.initializers.ones());
    add('ffn_norm_beta', [dim], tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...this.shapes(inputShape)[0]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.shapes(list.map((t) => t.shape));
      const attention = this.attention;
      const keyDim = this.keyDim;
      if (attention === null || keyDim === null) {
        throw new Error(`'${NAME}' '${this.name}' is called before it is built`);
      }
      const x = list[0] as tf.Tensor3D;
      const mask = list[1] ?? null;
      const training = kwargs?.training === true;
      const w = (name: string): tf.Tensor => this.weightsByName[name].read();
      const drop = (t: tf.Tensor): tf.Tensor =>
        (training && this.dropout > 0 ? tf.dropout(t, this.dropout) : t);
      const norm = (t: tf.Tensor, which: 'attention' | 'ffn'): tf.Tensor =>
        layerNorm(t, w(`${which}_norm_gamma`), w(`${which}_norm_beta`), this.epsilon);
      const attend = (t: tf.Tensor): tf.Tensor => computeMultiHeadAttention(
        t as tf.Tensor3D, t as tf.Tensor3D, readAttentionWeights(attention), {
          numHeads: this.numHeads, keyDim, mask, causal: this.causal,
          dropout: this.dropout, training, caller: NAME,
        });
      const ffn = (t: tf.Tensor): tf.Tensor => {
        const [batch, time, dim] = x.shape;
        const flat = tf.reshape(t, [batch * time, dim]) as tf.Tensor2D;
        let h: tf.Tensor = tf.matMul(flat, w('ffn_kernel1') as tf.Tensor2D);
        if (this.useBias) h = tf.add(h, w('ffn_bias1'));
        h = this.activation === 'gelu' ? gelu(h) : tf.relu(h);
        let y: tf.Tensor = tf.matMul(h as tf.Tensor2D, w('ffn_kernel2') as tf.Tensor2D);
        if (this.useBias) y = tf.add(y, w('ffn_bias2'));
        return tf.reshape(y, [batch, time, dim]);
      };
      let y: tf.Tensor;
      if (this.norm === 'pre') {
        const h = tf.add(x, drop(attend(norm(x, 'attention'))));
        y = tf.add(h, drop(ffn(norm(h, 'ffn'))));
      } else {
        const h = norm(tf.add(x, drop(attend(x))), 'attention');
        y = norm(tf.add(h, drop(ffn(h))), 'ffn');
      }
      return mask === null ? y : tf.mul(y, tf.expandDims(binaryMask(mask), 2));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      ffnMultiplier: this.ffnMultiplier,
      activation: this.activation,
      norm: this.norm,
      causal: this.causal,
      dropout: this.dropout,
      epsilon: this.epsilon,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(TransformerBlock);

/**
 * Creates a {@link TransformerBlock} layer.
 *
 * @example
 * ```ts
 * const block = transformerBlock({ numHeads: 2, causal: true, dropout: 0.2 });
 * ```
 */
export function transformerBlock(args: TransformerBlockArgs = {}): TransformerBlock {
  return new TransformerBlock(args);
}
