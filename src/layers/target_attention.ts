/**
 * `TargetAttention`: DIN's activation unit, pooling a behaviour sequence by its relevance to a
 * target item.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { getActivation } from './activations';
import { initializerByName } from './initializers';
import { checkPositiveInt } from './ops/arg_checks';
import { checkRankAndDim, type Shape, splitInputShapes } from './ops/input_shapes';
import { NEG_LARGE } from './ops/masked_pooling';
import { binaryMask, checkMaskShape } from './ops/sequence_mask';
import { dimsDiffer, shapeText } from './ops/shape_text';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'TargetAttention';

/** How {@link TargetAttention} turns scores into weights. */
export type AttentionNormalization = 'none' | 'softmax';

/** Options of {@link TargetAttention}. */
export interface TargetAttentionArgs extends LayerArgs {
  /** Hidden layer sizes of the scoring MLP. Default `[36]`. */
  hiddenUnits?: number[];
  /**
   * Activation of the hidden layers, a tfjs-layers name (`'sigmoid'`, `'relu'`, `'tanh'`, ...).
   * DIN's Dice is not offered: it needs running batch statistics. Default `'sigmoid'`.
   */
  activation?: string;
  /**
   * `'none'`: the raw scores are the weights, as in DIN (keeps the intensity of interest);
   * `'softmax'`: scores are softmax-normalised over the valid positions. Default `'none'`.
   */
  normalize?: AttentionNormalization;
  /** Initializer of the MLP kernels, a tfjs-layers camelCase name. Default `'glorotUniform'`. */
  kernelInitializer?: string;
  /** Initializer of the MLP biases. Default `'zeros'`. */
  biasInitializer?: string;
}

/**
 * DIN's local activation unit. Inputs `[history, target]` or `[history, target, mask]` with
 * `history [batch, time, dim]`, `target [batch, dim]` and `mask [batch, time]` (non-zero = valid).
 * Each position gets a score from an MLP over `concat[h, t, h − t, h · t]` (hidden layers with
 * `activation`, then a linear unit); the output `[batch, dim]` is `Σ_t w_t · h_t` with
 * `w_t = score_t` (or its masked softmax), and `w_t = 0` at padded positions.
 *
 * @example
 * ```ts
 * const history = tfl.input({ shape: [5, 8] });
 * const target = tfl.input({ shape: [8] });
 * const mask = tfl.input({ shape: [5] });
 * const interest = targetAttention({ hiddenUnits: [16] })
 *   .apply([history, target, mask]) as tfl.SymbolicTensor; // [null, 8]
 * ```
 */
export class TargetAttention extends tfl.layers.Layer {
  static className = 'DuetTargetAttention';

  readonly hiddenUnits: number[];
  readonly activation: string;
  readonly normalize: AttentionNormalization;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;
  private readonly activationFn: (x: tf.Tensor) => tf.Tensor;
  private layers: Array<{ kernel: tfl.LayerVariable; bias: tfl.LayerVariable }> = [];

  constructor(args: TargetAttentionArgs = {}) {
    super(args);
    if (!Array.isArray(args.hiddenUnits ?? [])) {
      throw new Error(`'hiddenUnits' passed to '${NAME}' must be an array of positive integers, ` +
        `got ${String(args.hiddenUnits)}`);
    }
    this.hiddenUnits = [...(args.hiddenUnits ?? [36])];
    this.hiddenUnits.forEach((u, i) => checkPositiveInt(u, `hiddenUnits[${i}]`, NAME));
    this.activation = args.activation ?? 'sigmoid';
    this.activationFn = getActivation(this.activation, NAME);
    this.normalize = args.normalize ?? 'none';
    if (this.normalize !== 'none' && this.normalize !== 'softmax') {
      throw new Error(`'normalize' passed to '${NAME}' must be 'none' or 'softmax', got ` +
        `'${String(this.normalize)}'`);
    }
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    initializerByName(this.kernelInitializer, NAME);
    initializerByName(this.biasInitializer, NAME);
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape, Shape | null] {
    const shapes = splitInputShapes(inputShape, ['history', 'target', 'mask'], 2, NAME);
    const [history, target] = shapes;
    const dim = checkRankAndDim(history, 3, '[batch, time, dim]', 'history', NAME);
    checkRankAndDim(target, 2, '[batch, dim]', 'target', NAME);
    if (target[1] !== dim || dimsDiffer(target[0], history[0])) {
      throw new Error(`'target' passed to '${NAME}' must have shape [batch, ${dim}] matching ` +
        `'history' ${shapeText(history)}, got ${shapeText(target)}`);
    }
    const mask = shapes[2] ?? null;
    if (mask !== null) checkMaskShape(mask, history, NAME, 'mask', 'history');
    return [history, target, mask];
  }

  override build(inputShape: Shape | Shape[]): void {
    const [history] = this.shapes(inputShape);
    let width = 4 * (history[2] as number);
    const sizes = [...this.hiddenUnits, 1];
    this.layers = sizes.map((units, i) => {
      const suffix = i === this.hiddenUnits.length ? 'output' : String(i);
      const layer = {
        kernel: this.addWeight(`kernel_${suffix}`, [width, units], 'float32',
          initializerByName(this.kernelInitializer, NAME)),
        bias: this.addWeight(`bias_${suffix}`, [units], 'float32',
          initializerByName(this.biasInitializer, NAME)),
      };
      width = units;
      return layer;
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [history] = this.shapes(inputShape);
    return [history[0], history[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      this.shapes(list.map((t) => t.shape));
      const history = list[0] as tf.Tensor3D;
      const [batch, time, dim] = history.shape;
      const target = tf.tile(tf.reshape(list[1], [batch, 1, dim]), [1, time, 1]);
      const features = tf.concat(
        [history, target, tf.sub(history, target), tf.mul(history, target)], 2);
      let h: tf.Tensor = tf.reshape(features, [batch * time, 4 * dim]);
      this.layers.forEach(({ kernel, bias }, i) => {
        h = tf.add(tf.matMul(h as tf.Tensor2D, kernel.read() as tf.Tensor2D), bias.read());
        if (i < this.hiddenUnits.length) h = this.activationFn(h);
      });
      let weights = tf.reshape(h, [batch, time]);
      const mask = list[2] === undefined ? null : binaryMask(list[2]);
      if (this.normalize === 'softmax') {
        if (mask !== null) {
          weights = tf.add(tf.mul(weights, mask), tf.mul(tf.sub(1, mask), NEG_LARGE));
        }
        weights = tf.softmax(weights);
      }
      // Multiplying after the softmax too makes an all-padding row all-zero, not uniform.
      if (mask !== null) weights = tf.mul(weights, mask);
      return tf.sum(tf.mul(history, tf.reshape(weights, [batch, time, 1])), 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      hiddenUnits: [...this.hiddenUnits],
      activation: this.activation,
      normalize: this.normalize,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(TargetAttention);

/**
 * Creates a {@link TargetAttention} layer.
 *
 * @example
 * ```ts
 * const activationUnit = targetAttention({ hiddenUnits: [80, 40], normalize: 'softmax' });
 * ```
 */
export function targetAttention(args: TargetAttentionArgs = {}): TargetAttention {
  return new TargetAttention(args);
}
