/**
 * `DynamicDense`: a dense layer whose kernel and bias arrive per sample, as an input.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { getActivation } from './activations';
import { initializerByName } from './initializers';
import { shapeText } from './ops/shape_text';
import { paramCount } from './param_layout';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Shape = tfl.Shape;

/** Options of {@link DynamicDense}. */
export interface DynamicDenseArgs extends LayerArgs {
  /** Output size. Required. */
  units: number;
  /** Activation applied after kernel and bias, a tfjs-layers name. Default `'linear'`. */
  activation?: string;
  /** Whether the parameter slice carries a bias after the kernel. Default true. */
  useBias?: boolean;
  /**
   * Residual mode: the layer also owns a static kernel (and bias) and computes with
   * `W_static + ΔW(sample)`, so with a zero parameter vector it is a plain Dense layer.
   * Default false.
   */
  residual?: boolean;
  /**
   * Where this layer's slice starts in the `params` input, for several dynamic layers fed by
   * one generator. When set, `params` may be wider than this layer's slice. Default: unset,
   * `params` must be exactly this layer's size.
   */
  paramOffset?: number;
  /** Initializer of the static kernel in residual mode. Default `'glorotUniform'`. */
  kernelInitializer?: string;
  /** Initializer of the static bias in residual mode. Default `'zeros'`. */
  biasInitializer?: string;
}

/**
 * A dense layer whose kernel and bias come per sample: inputs `[x, params]` with `x` of shape
 * `[batch, in]` or `[batch, time, in]` and `params` of shape `[batch, in*units (+units)]`
 * (the kernel row-major, then the bias). Computed as one batched matMul, with no per-sample loop.
 *
 * In residual mode the layer owns a static kernel and bias and uses `W_static + ΔW(sample)`,
 * so a DUET model can start exactly where the static model was (ΔW = 0).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { dynamicDense } from 'duet-tf';
 *
 * const x = tfl.input({ shape: [4] });
 * const params = tfl.input({ shape: [4 * 2 + 2] });
 * const y = dynamicDense({ units: 2, activation: 'tanh' }).apply([x, params]) as tfl.SymbolicTensor;
 * const model = tfl.model({ inputs: [x, params], outputs: y });
 * model.predict([tf.ones([3, 4]), tf.randomNormal([3, 10])]); // shape [3, 2]
 * ```
 */
export class DynamicDense extends tfl.layers.Layer {
  static className = 'DuetDynamicDense';

  readonly units: number;
  readonly activation: string;
  readonly useBias: boolean;
  readonly residual: boolean;
  readonly paramOffset: number | undefined;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;

  private inputDim = -1;
  private staticKernel: tfl.LayerVariable | null = null;
  private staticBias: tfl.LayerVariable | null = null;
  private readonly activationFn: (x: tf.Tensor) => tf.Tensor;

  constructor(args: DynamicDenseArgs) {
    super(args);
    if (!Number.isInteger(args?.units) || args.units <= 0) {
      throw new Error(`'units' passed to 'DynamicDense' must be a positive integer, got ` +
        `${String(args?.units)}`);
    }
    if (args.paramOffset !== undefined &&
        (!Number.isInteger(args.paramOffset) || args.paramOffset < 0)) {
      throw new Error(`'paramOffset' passed to 'DynamicDense' must be a non-negative integer, ` +
        `got ${String(args.paramOffset)}`);
    }
    this.units = args.units;
    this.activation = args.activation ?? 'linear';
    this.activationFn = getActivation(this.activation, 'DynamicDense');
    this.useBias = args.useBias ?? true;
    this.residual = args.residual ?? false;
    this.paramOffset = args.paramOffset;
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    // Fail on an unknown name now rather than at build time.
    initializerByName(this.kernelInitializer, 'DynamicDense');
    initializerByName(this.biasInitializer, 'DynamicDense');
  }

  /** Number of values this layer reads from `params` (known once `x`'s width is). */
  get paramSize(): number {
    if (this.inputDim < 0) {
      throw new Error(`DynamicDense '${this.name}' is not built yet: its input size is unknown`);
    }
    return paramCount({
      name: this.name, inputDim: this.inputDim, outputDim: this.units, useBias: this.useBias,
    });
  }

  private splitShapes(inputShape: Shape | Shape[]): [Shape, Shape] {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error(`'DynamicDense' expects two inputs [x, params], got ` +
        `${Array.isArray(inputShape[0]) ? inputShape.length : 1}`);
    }
    return [inputShape[0] as Shape, inputShape[1] as Shape];
  }

  /** Checks `x` and `params` shapes; returns the width of `x`. */
  private checkShapes(xShape: Shape, paramsShape: Shape): number {
    if (xShape.length !== 2 && xShape.length !== 3) {
      throw new Error(`'x' passed to 'DynamicDense' must have shape [batch, in] or ` +
        `[batch, time, in], got ${shapeText(xShape)}`);
    }
    const inputDim = xShape[xShape.length - 1];
    if (inputDim === null) {
      throw new Error(`'x' passed to 'DynamicDense' must have a known last dimension, got ` +
        `${shapeText(xShape)}`);
    }
    const size = inputDim * this.units + (this.useBias ? this.units : 0);
    const width = paramsShape[1];
    const offset = this.paramOffset;
    const expected = offset === undefined ? `[batch, ${size}]` :
      `[batch, >= ${offset + size}] (offset ${offset} + ${size})`;
    const badWidth = width !== null &&
      (offset === undefined ? width !== size : width < offset + size);
    if (paramsShape.length !== 2 || badWidth) {
      throw new Error(`'params' passed to 'DynamicDense' must have shape ${expected}, got ` +
        `${shapeText(paramsShape)}`);
    }
    return inputDim;
  }

  override build(inputShape: Shape | Shape[]): void {
    const [xShape, paramsShape] = this.splitShapes(inputShape);
    this.inputDim = this.checkShapes(xShape, paramsShape);
    if (this.residual) {
      this.staticKernel = this.addWeight('kernel', [this.inputDim, this.units], 'float32',
        initializerByName(this.kernelInitializer, 'DynamicDense'));
      if (this.useBias) {
        this.staticBias = this.addWeight('bias', [this.units], 'float32',
          initializerByName(this.biasInitializer, 'DynamicDense'));
      }
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [xShape, paramsShape] = this.splitShapes(inputShape);
    this.checkShapes(xShape, paramsShape);
    return [...xShape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 2) {
        throw new Error(`'DynamicDense' expects two inputs [x, params]`);
      }
      const [x, params] = inputs;
      const inputDim = this.checkShapes(x.shape, params.shape);
      const batch = x.shape[0];
      if (params.shape[0] !== batch) {
        throw new Error(`'params' passed to 'DynamicDense' must have one row per sample of 'x' ` +
          `(${batch}), got ${params.shape[0]}`);
      }
      const kernelSize = inputDim * this.units;
      const start = this.paramOffset ?? 0;
      const kernel = tf.reshape(tf.slice(params, [0, start], [batch, kernelSize]),
        [batch, inputDim, this.units]);
      // Equal batch dims on both sides: broadcasting batched matMul has wrong gradients (tfjs#8721).
      const x3 = x.rank === 2 ? tf.reshape(x, [batch, 1, inputDim]) : x;
      let y: tf.Tensor = tf.matMul(x3, kernel);
      if (x.rank === 2) y = tf.reshape(y, [batch, this.units]);
      if (this.useBias) {
        const bias = tf.slice(params, [0, start + kernelSize], [batch, this.units]);
        y = tf.add(y, x.rank === 2 ? bias : tf.reshape(bias, [batch, 1, this.units]));
      }
      return this.activationFn(this.withStatic(x, y));
    });
  }

  /** `y` plus the static part `x · W_static + b_static` in residual mode; `y` unchanged otherwise. */
  private withStatic(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
    if (!this.residual || this.staticKernel === null) return y;
    const flat = tf.reshape(x, [-1, this.inputDim]);
    let s: tf.Tensor = tf.matMul(flat, this.staticKernel.read());
    if (this.staticBias !== null) s = tf.add(s, this.staticBias.read());
    return tf.add(y, tf.reshape(s, y.shape));
  }

  /**
   * The layer's output for rows `x [rows, in]` whose generated part `x · W + b` is already
   * computed as `generated [rows, units]` — e.g. by `ParameterGenerator.applyGenerated`, which
   * applies a generated kernel per row without forming it: adds the static part (residual mode),
   * then the activation. Sequence-level training uses it for a kernel per position.
   *
   * @example
   * ```ts
   * const y = layer.callGenerated(x, generator.applyGenerated(layer.name, x, z)); // [rows, units]
   * ```
   */
  callGenerated(x: tf.Tensor2D, generated: tf.Tensor2D): tf.Tensor2D {
    if (this.inputDim < 0) {
      throw new Error(`DynamicDense '${this.name}' is not built yet: its input size is unknown`);
    }
    if (x.rank !== 2 || x.shape[1] !== this.inputDim || generated.rank !== 2 ||
        generated.shape[0] !== x.shape[0] || generated.shape[1] !== this.units) {
      throw new Error(`'DynamicDense.callGenerated' of '${this.name}' needs x [rows, ${this.inputDim}] ` +
        `and generated [rows, ${this.units}], got ${shapeText(x.shape)} and ${shapeText(generated.shape)}`);
    }
    return tf.tidy(() => this.activationFn(this.withStatic(x, generated)) as tf.Tensor2D);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      residual: this.residual,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
    };
    if (this.paramOffset !== undefined) config.paramOffset = this.paramOffset;
    return { ...config, ...super.getConfig() };
  }
}
tf.serialization.registerClass(DynamicDense);

/**
 * Creates a {@link DynamicDense} layer, as `tf.layers.dense` creates a `Dense`.
 *
 * @example
 * ```ts
 * const layer = dynamicDense({ units: 8, activation: 'relu', residual: true });
 * ```
 */
export function dynamicDense(args: DynamicDenseArgs): DynamicDense {
  return new DynamicDense(args);
}
