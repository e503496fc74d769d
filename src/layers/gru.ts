/**
 * `Gru`: a GRU over a padded sequence that returns the state at the last valid position.
 *
 * tfjs-layers has a GRU, but its default recurrent initializer ('orthogonal') calls chained ops,
 * which tfjs-core alone does not register, and it has no explicit `[batch, time]` mask input.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { initializerByName } from './initializers';
import { checkPositiveInt } from './ops/arg_checks';
import { gruEncode, gruStates, type GruWeights } from './ops/gru_recurrence';
import { sequenceInputShapes, type Shape } from './ops/input_shapes';
import { binaryMask } from './ops/sequence_mask';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

const NAME = 'Gru';

/** Options of {@link Gru}. */
export interface GruArgs extends LayerArgs {
  /** Size of the state. Default: the input's last dimension. */
  units?: number | null;
  /** Initializer of the input kernel (tfjs-layers camelCase name). Default `'glorotUniform'`. */
  kernelInitializer?: string;
  /**
   * Initializer of the recurrent kernel. Default `'glorotUniform'` ('orthogonal' is not offered:
   * tfjs-layers' version crashes without chained ops).
   */
  recurrentInitializer?: string;
  /** Initializer of the bias. Default `'zeros'`. */
  biasInitializer?: string;
}

/**
 * A GRU (gates in Keras order: update, reset, candidate; one input-side bias; the reset gate
 * applied before the recurrent product, `h̃ = tanh(W_h x + U_h (r ⊙ h) + b_h)`) run over
 * `x [batch, time, dim]` from `h = 0`. Inputs `x` or `[x, mask]` with `mask [batch, time]`
 * (non-zero = valid): a padded step leaves the state unchanged, so the output `[batch, units]`
 * is the state after the last valid item whether padding is on the right, the left or in
 * holes; an all-padding row gives zeros. Without a mask every step is valid.
 *
 * @example
 * ```ts
 * const x = tfl.input({ shape: [5, 8] });
 * const mask = tfl.input({ shape: [5] });
 * const state = gru({ units: 16 }).apply([x, mask]) as tfl.SymbolicTensor; // [null, 16]
 * ```
 */
export class Gru extends tfl.layers.Layer {
  static className = 'DuetGru';

  readonly kernelInitializer: string;
  readonly recurrentInitializer: string;
  readonly biasInitializer: string;
  private unitsArg: number | null;
  private resolvedUnits: number | null = null;
  private kernel: tfl.LayerVariable | null = null;
  private recurrentKernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  constructor(args: GruArgs = {}) {
    super(args);
    this.unitsArg = args.units ?? null;
    if (this.unitsArg !== null) checkPositiveInt(this.unitsArg, 'units', NAME);
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.recurrentInitializer = args.recurrentInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    initializerByName(this.kernelInitializer, NAME);
    initializerByName(this.recurrentInitializer, NAME);
    initializerByName(this.biasInitializer, NAME);
  }

  /** Size of the state (known once built when not given). */
  get units(): number | null {
    return this.unitsArg ?? this.resolvedUnits;
  }

  private shapes(inputShape: Shape | Shape[]): [Shape, Shape | null] {
    return sequenceInputShapes(inputShape, NAME);
  }

  override build(inputShape: Shape | Shape[]): void {
    const [x] = this.shapes(inputShape);
    const dim = x[2] as number;
    const units = this.unitsArg ?? dim;
    this.resolvedUnits = units;
    this.kernel = this.addWeight('kernel', [dim, 3 * units], 'float32',
      initializerByName(this.kernelInitializer, NAME));
    this.recurrentKernel = this.addWeight('recurrent_kernel', [units, 3 * units], 'float32',
      initializerByName(this.recurrentInitializer, NAME));
    this.bias = this.addWeight('bias', [3 * units], 'float32',
      initializerByName(this.biasInitializer, NAME));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [x] = this.shapes(inputShape);
    return [x[0], this.unitsArg ?? this.resolvedUnits ?? x[2]];
  }

  /** `x`, its 0/1 mask and the weights, checked (inside the caller's tidy). */
  private operands(inputs: tf.Tensor | tf.Tensor[]):
      { x: tf.Tensor3D; mask: tf.Tensor2D; weights: GruWeights } {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    this.shapes(list.map((t) => t.shape));
    if (this.kernel === null || this.recurrentKernel === null || this.bias === null) {
      throw new Error(`'${NAME}' '${this.name}' is called before it is built`);
    }
    const x = list[0] as tf.Tensor3D;
    const mask = (list[1] === undefined ? tf.ones([x.shape[0], x.shape[1]]) :
      binaryMask(list[1])) as tf.Tensor2D;
    return {
      x, mask, weights: {
        kernel: this.kernel.read() as tf.Tensor2D,
        recurrent: this.recurrentKernel.read() as tf.Tensor2D,
        bias: this.bias.read() as tf.Tensor1D,
      },
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const { x, mask, weights } = this.operands(inputs);
      return gruEncode(x, mask, weights);
    });
  }

  /**
   * The state after every step, `[batch, time, units]`, for inputs `x` or `[x, mask]` as
   * {@link Gru.call} takes them: with right padding, position t is what the layer returns for the
   * prefix 0..t alone (a GRU is causal), so one pass gives every prefix's state — what
   * sequence-level training reads. Differentiable; the layer must be built.
   *
   * @example
   * ```ts
   * const states = layer.states([x, mask]); // [batch, time, units]
   * ```
   */
  states(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor3D {
    return tf.tidy(() => {
      const { x, mask, weights } = this.operands(inputs);
      return gruStates(x, mask, weights);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      units: this.units,
      kernelInitializer: this.kernelInitializer,
      recurrentInitializer: this.recurrentInitializer,
      biasInitializer: this.biasInitializer,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(Gru);

/**
 * Creates a {@link Gru} layer.
 *
 * @example
 * ```ts
 * const encoder = gru({ units: 32, name: 'gru' });
 * ```
 */
export function gru(args: GruArgs = {}): Gru {
  return new Gru(args);
}
