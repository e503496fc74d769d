/**
 * `ParameterGenerator`: the cloud-side hypernetwork of DUET. It reads a conditioning sequence
 * and emits the parameters of one or more dense layers, one flat vector per sample.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {
  DECODER_KINDS, DecoderKind, decodeFull, decodeLowRank, LowRankCore,
} from './generator/decoders';
import {
  attentionPool, type AttentionWeights, ENCODER_KINDS, EncoderKind, gatherLastValid, gruEncode,
  maskedMean, standardize,
} from './generator/encoders';
import { applyFullRows, applyLowRankRows, prefixAttentionPool, prefixMeans } from './generator/prefixes';
import { gruStates, type GruWeights } from './ops/gru_recurrence';
import { binaryMask, checkMaskShape } from './ops/sequence_mask';
import { shapeText } from './ops/shape_text';
import { stopGradient } from './ops/stop_gradient';
import { DynamicLayerSpec, ParamSlice, paramLayout } from './param_layout';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
type Shape = tfl.Shape;

/** What the generator reads: item ids (with its own embedding table) or ready embeddings. */
export type GeneratorInputKind = 'ids' | 'embeddings';

/** How generated parameters start: Glorot-like kernels, or a zero per-sample part. */
export type GeneratorInit = 'glorot' | 'zero';

/** Options of {@link ParameterGenerator}. */
export interface ParameterGeneratorArgs extends LayerArgs {
  /** The layers to generate, in the order their parameters are laid out. Required. */
  layers: DynamicLayerSpec[];
  /**
   * `'ids'`: one input `[batch, time]` of item ids, 0 = padding, looked up in the generator's
   * own embedding table. `'embeddings'`: two inputs, `[batch, time, dim]` vectors and a
   * `[batch, time]` mask (1 = item, 0 = padding). Default `'ids'`.
   */
  input?: GeneratorInputKind;
  /** Number of item ids including padding 0 (ids input only; required there). */
  vocabSize?: number;
  /** Size of the generator's item embeddings (ids input only). Default 32. */
  embeddingDim?: number;
  /**
   * Sequence encoder: `'gru'` (the authors': GRU state at the last valid position), `'mean'`
   * (masked mean), `'attention'` (learned attention pooling) or `'last'` (the last valid item).
   * Padding may be on either side. Default `'gru'`.
   */
  encoder?: EncoderKind;
  /** Size of the conditioning vector z. Default: the embedding size. */
  conditionDim?: number;
  /**
   * `'full'` (the authors': `W = z·A + a`, `b = z·C + c`) or `'lowrank'`
   * (`W = a + U·S(z)·V`, rank `rank`). Default `'full'`.
   */
  decoder?: DecoderKind;
  /** Rank of the low-rank decoder. Default 8. */
  rank?: number;
  /** Low-rank core: `'diag'` (r values per sample) or `'matrix'` (r×r). Default `'diag'`. */
  lowrankCore?: LowRankCore;
  /**
   * `'glorot'`: generated kernels start with variance 2/(in+out), half shared and half per
   * sample. `'zero'`: everything generated starts at exactly zero (for residual targets, or
   * before {@link ParameterGenerator.setStaticWeights}). Default `'glorot'`.
   */
  init?: GeneratorInit;
  /**
   * Stable Weight Adapter: bound each layer's per-sample deviation by a learned
   * `b·tanh(Δ/b)`, `b` starting at 3× the layer's Glorot standard deviation. Default false.
   */
  stableWeights?: boolean;
  /**
   * Standardise z per sample (zero mean, unit variance) so the initial kernel variance is
   * exactly as chosen by `init`. Default true.
   */
  normalizeCondition?: boolean;
  /**
   * Training only: the probability, per sample, that the conditioning vector z is replaced by
   * zeros, so that sample gets the generator's history-free (shared) parameters. Trains the shared
   * part to work on its own, the way dropout trains units not to lean on each other; inference
   * always reads the history. In `[0, 1)`. Default 0.
   */
  conditionDropout?: number;
  /**
   * Input `'embeddings'` only: read the embeddings without training what produced them. The
   * generator's own weights still learn; the layers upstream (item embeddings, a history
   * transform) then learn from the task alone, as in a base model, instead of also being pulled
   * towards what makes a good conditioning vector. Default false.
   */
  detachCondition?: boolean;
  /** Seed of the initial weights (and of `conditionDropout`'s draws), for reproducible runs. Default: unseeded. */
  seed?: number;
}

/** {@link ParameterGeneratorArgs} with every default filled in. */
export interface ResolvedGeneratorOptions {
  layers: DynamicLayerSpec[];
  input: GeneratorInputKind;
  vocabSize: number | null;
  embeddingDim: number;
  encoder: EncoderKind;
  conditionDim: number | null;
  decoder: DecoderKind;
  rank: number;
  lowrankCore: LowRankCore;
  init: GeneratorInit;
  stableWeights: boolean;
  normalizeCondition: boolean;
  conditionDropout: number;
  detachCondition: boolean;
  seed: number | null;
}

function oneOf<T extends string>(value: T | undefined, allowed: readonly T[], fallback: T,
    key: string): T {
  const v = value ?? fallback;
  if (!allowed.includes(v)) {
    throw new Error(`'${key}' passed to 'ParameterGenerator' must be one of ` +
      `${allowed.map((a) => `'${a}'`).join(', ')}, got '${String(value)}'`);
  }
  return v;
}

function positiveInt(value: number | undefined, key: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
    throw new Error(`'${key}' passed to 'ParameterGenerator' must be a positive integer, got ` +
      `${String(value)}`);
  }
}

// Options of the generator itself, and those every tfjs-layers layer takes.
const KNOWN_ARGS = new Set(['layers', 'input', 'vocabSize', 'embeddingDim', 'encoder',
  'conditionDim', 'decoder', 'rank', 'lowrankCore', 'init', 'stableWeights', 'normalizeCondition',
  'conditionDropout', 'detachCondition', 'seed', 'name', 'trainable', 'dtype', 'inputShape', 'batchInputShape', 'batchSize', 'weights',
  'inputDType', 'customObjects', 'fastWeightInit']);

function resolveArgs(args: ParameterGeneratorArgs): ResolvedGeneratorOptions {
  if (args === undefined || args === null) {
    throw new Error(`'ParameterGenerator' needs options with at least 'layers'`);
  }
  const unknown = Object.keys(args).filter((k) => !KNOWN_ARGS.has(k));
  if (unknown.length > 0) {
    throw new Error(`unknown option '${unknown[0]}' passed to 'ParameterGenerator'`);
  }
  const layers = paramLayout(args.layers, 'ParameterGenerator').slices.map((s) => ({
    name: s.name, inputDim: s.inputDim, outputDim: s.outputDim, useBias: s.useBias,
  }));
  const input = oneOf(args.input, ['ids', 'embeddings'], 'ids', 'input');
  for (const key of ['vocabSize', 'embeddingDim', 'conditionDim', 'rank'] as const) {
    positiveInt(args[key], key);
  }
  if (input === 'ids' && args.vocabSize === undefined) {
    throw new Error(`'vocabSize' passed to 'ParameterGenerator' is required when input is ` +
      `'ids' (the number of item ids, padding 0 included)`);
  }
  const normalizeCondition = args.normalizeCondition ?? true;
  if (normalizeCondition && args.conditionDim === 1) {
    throw new Error(`'conditionDim' passed to 'ParameterGenerator' must be at least 2 when ` +
      `'normalizeCondition' is on (a standardised scalar is always 0)`);
  }
  const conditionDropout = args.conditionDropout ?? 0;
  if (!(typeof conditionDropout === 'number' && conditionDropout >= 0 && conditionDropout < 1)) {
    throw new Error(`'conditionDropout' passed to 'ParameterGenerator' must be a number in [0, 1), ` +
      `got ${String(conditionDropout)}`);
  }
  const detachCondition = args.detachCondition ?? false;
  if (typeof detachCondition !== 'boolean') {
    throw new Error(`'detachCondition' passed to 'ParameterGenerator' must be true or false, ` +
      `got ${String(detachCondition)}`);
  }
  if (detachCondition && input !== 'embeddings') {
    throw new Error(`'detachCondition' passed to 'ParameterGenerator' needs input 'embeddings' ` +
      `(with input 'ids' the generator reads its own embedding table, which it should train)`);
  }
  return {
    layers,
    input,
    vocabSize: args.vocabSize ?? null,
    embeddingDim: args.embeddingDim ?? 32,
    encoder: oneOf(args.encoder, ENCODER_KINDS, 'gru', 'encoder'),
    conditionDim: args.conditionDim ?? null,
    decoder: oneOf(args.decoder, DECODER_KINDS, 'full', 'decoder'),
    rank: args.rank ?? 8,
    lowrankCore: oneOf(args.lowrankCore, ['diag', 'matrix'], 'diag', 'lowrankCore'),
    init: oneOf(args.init, ['glorot', 'zero'], 'glorot', 'init'),
    stableWeights: args.stableWeights ?? false,
    normalizeCondition,
    conditionDropout,
    detachCondition,
    seed: args.seed ?? null,
  };
}

/** Weights of one generated layer under the low-rank decoder. */
interface LowRankVariables {
  u: tfl.LayerVariable; v: tfl.LayerVariable; core: tfl.LayerVariable;
  coreBias: tfl.LayerVariable; base: tfl.LayerVariable;
  biasKernel: tfl.LayerVariable | null; biasBase: tfl.LayerVariable | null;
}

/**
 * The DUET parameter generator: conditioning sequence → the parameters of the dynamic layers.
 *
 * Input: `[batch, time]` item ids (0 = padding, on either side), or `[embeddings, mask]`.
 * Output: `[batch, total]`, each layer's row-major kernel then bias, in the order of `layers`
 * (see {@link paramLayout}); feed it to {@link DynamicDense} layers with matching `paramOffset`.
 *
 * Every weight is created with `addWeight`, so it trains with `fit` and saves with `save`
 * (the public PyTorch reference keeps its generator matrices in plain lists, untrained).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { parameterGenerator } from 'duet-tf';
 *
 * const generator = parameterGenerator({
 *   layers: [{ name: 'fc', inputDim: 8, outputDim: 4 }],
 *   vocabSize: 100, embeddingDim: 16, encoder: 'gru',
 * });
 * const params = generator.apply(tf.tensor2d([[5, 7, 9, 0, 0]])) as tf.Tensor; // [1, 36]
 * ```
 */
export class ParameterGenerator extends tfl.layers.Layer {
  static className = 'DuetParameterGenerator';

  /** The resolved options (defaults filled in). */
  readonly options: Readonly<ResolvedGeneratorOptions>;
  /** Where each generated layer sits in the output vector. */
  readonly slices: readonly ParamSlice[];
  /** Width of the output vector. */
  readonly totalParams: number;

  private embeddings: tfl.LayerVariable | null = null;
  private encoderWeights: Record<string, tfl.LayerVariable> = {};
  private fullKernel: tfl.LayerVariable | null = null;
  private fullBias: tfl.LayerVariable | null = null;
  private lowRank: LowRankVariables[] = [];
  private boundLogits: tfl.LayerVariable | null = null;
  private inputDim = -1;
  /** Calls made in training with `conditionDropout`: each seeded call draws a new mask. */
  private dropoutDraws = 0;

  constructor(args: ParameterGeneratorArgs) {
    super(args);
    this.options = resolveArgs(args);
    const layout = paramLayout(this.options.layers, 'ParameterGenerator');
    this.slices = layout.slices;
    this.totalParams = layout.total;
  }

  /** Size of the conditioning vector z (known once built for embeddings input). */
  get conditionDim(): number {
    return this.options.conditionDim ??
      (this.options.input === 'ids' ? this.options.embeddingDim : this.inputDim);
  }

  private checkInputShape(inputShape: Shape | Shape[]): number {
    const nested = Array.isArray(inputShape[0]);
    if (this.options.input === 'ids') {
      const shape = (nested ? (inputShape as Shape[])[0] : inputShape) as Shape;
      if ((nested && inputShape.length !== 1) || shape.length !== 2) {
        throw new Error(`'ids' passed to 'ParameterGenerator' must have shape [batch, time], got ` +
          `${nested ? (inputShape as Shape[]).map(shapeText).join(' and ') : shapeText(shape)}`);
      }
      return this.options.embeddingDim;
    }
    if (!nested || inputShape.length !== 2) {
      throw new Error(`'ParameterGenerator' with input 'embeddings' expects two inputs ` +
        `[embeddings [batch, time, dim], mask [batch, time]]`);
    }
    const [emb, mask] = inputShape as Shape[];
    if (emb.length !== 3 || emb[2] === null) {
      throw new Error(`'embeddings' passed to 'ParameterGenerator' must have shape ` +
        `[batch, time, dim], got ${shapeText(emb)}`);
    }
    if (mask.length !== 2 || (mask[1] !== null && emb[1] !== null && mask[1] !== emb[1])) {
      throw new Error(`'mask' passed to 'ParameterGenerator' must have shape [batch, ` +
        `${emb[1] ?? 'time'}], got ${shapeText(mask)}`);
    }
    return emb[2];
  }

  private seedFor(index: number): number | undefined {
    return this.options.seed === null ? undefined : this.options.seed * 7919 + index;
  }

  /** Adds a weight and writes its starting value (tfjs initializers cannot express these). */
  private addInitialised(name: string, shape: number[], value: () => tf.Tensor):
      tfl.LayerVariable {
    const variable = this.addWeight(name, shape, 'float32', tfl.initializers.zeros());
    // tidy: the value functions build their result from several intermediate tensors.
    const init = tf.tidy(value);
    variable.write(init);
    init.dispose();
    return variable;
  }

  private normal(shape: number[], std: number, index: number): () => tf.Tensor {
    return () => (std === 0 ? tf.zeros(shape) :
      tf.randomNormal(shape, 0, std, 'float32', this.seedFor(index)));
  }

  override build(inputShape: Shape | Shape[]): void {
    this.inputDim = this.checkInputShape(inputShape);
    const o = this.options;
    const dim = this.inputDim;
    const cond = this.conditionDim;
    if (o.normalizeCondition && cond < 2) {
      throw new Error(`'ParameterGenerator' has a conditioning vector of size ${cond} (from ` +
        `${o.conditionDim === null ? 'the embedding size' : 'conditionDim'}); with ` +
        `'normalizeCondition' on it must be at least 2 (a standardised scalar is always 0)`);
    }
    let seedIndex = 0;
    if (o.input === 'ids') {
      this.embeddings = this.addWeight('embeddings', [o.vocabSize as number, dim], 'float32',
        tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: this.seedFor(seedIndex++) }));
    }
    const glorot = () => tfl.initializers.glorotUniform({ seed: this.seedFor(seedIndex++) });
    const add = (name: string, shape: number[], init: ReturnType<typeof glorot>) => {
      this.encoderWeights[name] = this.addWeight(name, shape, 'float32', init);
    };
    if (o.encoder === 'gru') {
      add('gruKernel', [dim, 3 * cond], glorot());
      // Not 'orthogonal': tfjs-layers' orthogonal initializer calls chained ops, which
      // tfjs-core alone does not register.
      add('gruRecurrent', [cond, 3 * cond], glorot());
      add('gruBias', [3 * cond], tfl.initializers.zeros());
    } else {
      if (o.encoder === 'attention') {
        add('attentionKernel', [dim, dim], glorot());
        add('attentionBias', [dim], tfl.initializers.zeros());
        add('attentionQuery', [dim],
          tfl.initializers.randomNormal({ stddev: 1 / Math.sqrt(dim), seed: this.seedFor(seedIndex++) }));
      }
      add('projectionKernel', [dim, cond], glorot());
      add('projectionBias', [cond], tfl.initializers.zeros());
    }
    // Initial scales: with z standardised (|z|² = c), Var(z·A) = c·Var(A).
    const zero = o.init === 'zero';
    const glorotVar = (s: ParamSlice) => 2 / (s.inputDim + s.outputDim);
    if (o.decoder === 'full') {
      this.fullKernel = this.addInitialised('kernel', [cond, this.totalParams], () => tf.concat(
        this.slices.map((s, i) => {
          const kernelStd = zero ? 0 : Math.sqrt(glorotVar(s) / 2 / cond);
          const parts = [this.normal([cond, s.inputDim * s.outputDim], kernelStd, 100 + i)()];
          if (s.useBias) parts.push(tf.zeros([cond, s.outputDim]));
          return tf.concat(parts, 1);
        }), 1));
      this.fullBias = this.addInitialised('bias', [this.totalParams], () => tf.concat(
        this.slices.map((s, i) => {
          const parts = [this.normal([s.inputDim * s.outputDim],
            zero ? 0 : Math.sqrt(glorotVar(s) / 2), 200 + i)()];
          if (s.useBias) parts.push(tf.zeros([s.outputDim]));
          return tf.concat(parts, 0);
        }), 0));
    } else {
      const r = o.rank;
      // A diagonal core sums r terms per kernel entry, a full r×r core sums r² of them.
      const coreWidth = o.lowrankCore === 'diag' ? r : r * r;
      const coreTerms = coreWidth;
      this.lowRank = this.slices.map((s, i) => {
        const p = `layer${i}`;
        const vStd = zero ? 0 : Math.sqrt(glorotVar(s) / 2 / coreTerms);
        return {
          u: this.addInitialised(`${p}U`, [s.inputDim, r], this.normal([s.inputDim, r], 1, 300 + i)),
          v: this.addInitialised(`${p}V`, [r, s.outputDim], this.normal([r, s.outputDim], vStd, 400 + i)),
          core: this.addInitialised(`${p}Core`, [cond, coreWidth],
            this.normal([cond, coreWidth], Math.sqrt(1 / cond), 500 + i)),
          coreBias: this.addWeight(`${p}CoreBias`, [coreWidth], 'float32', tfl.initializers.zeros()),
          base: this.addInitialised(`${p}Base`, [s.inputDim * s.outputDim],
            this.normal([s.inputDim * s.outputDim], zero ? 0 : Math.sqrt(glorotVar(s) / 2), 600 + i)),
          biasKernel: s.useBias ?
            this.addWeight(`${p}BiasKernel`, [cond, s.outputDim], 'float32', tfl.initializers.zeros()) : null,
          biasBase: s.useBias ?
            this.addWeight(`${p}BiasBase`, [s.outputDim], 'float32', tfl.initializers.zeros()) : null,
        };
      });
    }
    if (o.stableWeights) {
      // softplus⁻¹(3σ): the bound starts at three Glorot standard deviations per layer.
      this.boundLogits = this.addInitialised('stableBound', [this.slices.length], () => tf.tensor1d(
        this.slices.map((s) => {
          const b = 3 * Math.sqrt(glorotVar(s));
          return Math.log(Math.expm1(b));
        })));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    this.checkInputShape(inputShape);
    const first = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [first[0], this.totalParams];
  }

  /** The conditioning sequence `[batch, time, dim]` and its 0/1 mask, from ids or embeddings. */
  private sequenceOf(inputs: tf.Tensor | tf.Tensor[]): { seq: tf.Tensor3D; mask: tf.Tensor2D } {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (this.options.input === 'ids') {
      const ids = list[0];
      if (list.length !== 1 || ids.rank !== 2) {
        throw new Error(`'ids' passed to 'ParameterGenerator' must have shape [batch, time], ` +
          `got ${list.map((t) => shapeText(t.shape)).join(' and ')}`);
      }
      const intIds = tf.cast(ids, 'int32');
      return {
        mask: tf.cast(tf.greater(intIds, 0), 'float32') as tf.Tensor2D,
        seq: tf.gather((this.embeddings as tfl.LayerVariable).read(), intIds) as tf.Tensor3D,
      };
    }
    if (list.length !== 2 || list[0].rank !== 3 || list[1].rank !== 2) {
      throw new Error(`'ParameterGenerator' with input 'embeddings' expects ` +
        `[embeddings [batch, time, dim], mask [batch, time]], got ` +
        `${list.map((t) => shapeText(t.shape)).join(' and ')}`);
    }
    let seq = list[0] as tf.Tensor3D;
    if (this.options.detachCondition) seq = stopGradient(seq);
    checkMaskShape(list[1].shape, seq.shape, 'ParameterGenerator', 'mask', 'embeddings');
    // Any non-zero mask value means "item" (the library-wide rule); the encoders need 0/1.
    return { seq, mask: binaryMask(list[1]) as tf.Tensor2D };
  }

  private gruWeights(): GruWeights {
    const w = (name: string) => this.encoderWeights[name].read();
    return {
      kernel: w('gruKernel') as tf.Tensor2D,
      recurrent: w('gruRecurrent') as tf.Tensor2D,
      bias: w('gruBias') as tf.Tensor1D,
    };
  }

  private attentionWeights(): AttentionWeights {
    const w = (name: string) => this.encoderWeights[name].read();
    return {
      kernel: w('attentionKernel') as tf.Tensor2D,
      bias: w('attentionBias') as tf.Tensor1D,
      query: w('attentionQuery') as tf.Tensor1D,
    };
  }

  /** `tanh(pooled · P + p)`, then standardised if asked: pooled vectors (any rank) → z. */
  private project(pooled: tf.Tensor): tf.Tensor {
    const kernel = this.encoderWeights.projectionKernel.read() as tf.Tensor2D;
    const shape = pooled.shape;
    const flat = tf.reshape(pooled, [-1, shape[shape.length - 1]]);
    const z = tf.tanh(tf.add(tf.matMul(flat as tf.Tensor2D, kernel), this.encoderWeights.projectionBias.read()));
    return tf.reshape(z, [...shape.slice(0, -1), kernel.shape[1]]);
  }

  /** Standardises the last axis of z when `normalizeCondition` is on. */
  private normalized(z: tf.Tensor): tf.Tensor {
    if (!this.options.normalizeCondition) return z;
    const shape = z.shape;
    return tf.reshape(standardize(tf.reshape(z, [-1, shape[shape.length - 1]]) as tf.Tensor2D), shape);
  }

  /** Conditioning vectors z `[batch, conditionDim]` for a batch of inputs. */
  encode(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor2D {
    return tf.tidy(() => {
      const { seq, mask } = this.sequenceOf(inputs);
      let z: tf.Tensor;
      if (this.options.encoder === 'gru') {
        z = gruEncode(seq, mask, this.gruWeights());
      } else {
        let pooled: tf.Tensor2D;
        if (this.options.encoder === 'mean') pooled = maskedMean(seq, mask);
        else if (this.options.encoder === 'last') pooled = gatherLastValid(seq, mask);
        else pooled = attentionPool(seq, mask, this.attentionWeights());
        z = this.project(pooled);
      }
      return this.normalized(z) as tf.Tensor2D;
    });
  }

  /**
   * Conditioning vectors of every prefix, `[batch, time, conditionDim]`: with right padding,
   * position t holds exactly what {@link ParameterGenerator.encode} gives for items 0..t alone
   * (every encoder is causal here: the GRU's state after t, the mean, attention pooling or last
   * item of 0..t). With `training` and `conditionDropout`, a dropped row has zeros at every
   * position, as {@link ParameterGenerator.call} zeroes a dropped row's z. Differentiable; one pass.
   *
   * @example
   * ```ts
   * const z = generator.encodePrefixes([embeddings, mask]); // [batch, time, c]
   * const y = generator.applyGenerated(0, x, tf.reshape(z, [-1, generator.conditionDim]));
   * ```
   */
  encodePrefixes(inputs: tf.Tensor | tf.Tensor[], training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const { seq, mask } = this.sequenceOf(inputs);
      let z: tf.Tensor;
      if (this.options.encoder === 'gru') {
        z = gruStates(seq, mask, this.gruWeights());
      } else {
        let pooled: tf.Tensor3D;
        if (this.options.encoder === 'mean') pooled = prefixMeans(seq, mask);
        else if (this.options.encoder === 'last') pooled = seq;
        else pooled = prefixAttentionPool(seq, mask, this.attentionWeights());
        z = this.project(pooled);
      }
      z = this.normalized(z);
      if (training && this.options.conditionDropout > 0) {
        z = tf.mul(z, tf.reshape(this.dropoutKeep(seq.shape[0]), [-1, 1, 1]));
      }
      return z as tf.Tensor3D;
    });
  }

  /**
   * `x · W(z) + b(z)`: the generated layer `layer` (its index in `slices`, or its name) applied
   * to rows `x [rows, inputDim]`, each with its own conditioning vector `z [rows, conditionDim]`,
   * without forming a kernel per row (see `applyLowRankRows`, `applyFullRows`). Equal to decoding
   * z and multiplying by the decoded kernel. Not with the Stable Weight Adapter (its bound does
   * not factor).
   *
   * @example
   * ```ts
   * const y = generator.applyGenerated('userTower1', x, z); // [rows, outputDim]
   * ```
   */
  applyGenerated(layer: number | string, x: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor2D {
    const index = typeof layer === 'number' ? layer : this.slices.findIndex((s) => s.name === layer);
    const slice = this.slices[index];
    if (slice === undefined) {
      throw new Error(`'layer' passed to 'ParameterGenerator.applyGenerated' must be a generated ` +
        `layer (${this.slices.map((s, i) => `${i} '${s.name}'`).join(', ')}), got ${String(layer)}`);
    }
    if (x.rank !== 2 || x.shape[1] !== slice.inputDim || z.rank !== 2 ||
        z.shape[1] !== this.conditionDim || z.shape[0] !== x.shape[0]) {
      throw new Error(`'ParameterGenerator.applyGenerated' for '${slice.name}' needs x [rows, ` +
        `${slice.inputDim}] and z [rows, ${this.conditionDim}], got ${shapeText(x.shape)} and ` +
        `${shapeText(z.shape)}`);
    }
    if (this.boundLogits !== null) {
      throw new Error(`'ParameterGenerator.applyGenerated' cannot apply the Stable Weight Adapter ` +
        `factorised (it bounds each kernel entry); use stableWeights: false for sequence-level training`);
    }
    return tf.tidy(() => {
      if (this.options.decoder === 'full') {
        return applyFullRows(x, z, slice, (this.fullKernel as tfl.LayerVariable).read() as tf.Tensor2D,
          (this.fullBias as tfl.LayerVariable).read() as tf.Tensor1D);
      }
      const v = this.lowRank[index];
      return applyLowRankRows(x, z, slice, {
        u: v.u.read() as tf.Tensor2D, v: v.v.read() as tf.Tensor2D,
        core: v.core.read() as tf.Tensor2D, coreBias: v.coreBias.read() as tf.Tensor1D,
        base: v.base.read() as tf.Tensor1D,
        biasKernel: v.biasKernel === null ? null : v.biasKernel.read() as tf.Tensor2D,
        biasBase: v.biasBase === null ? null : v.biasBase.read() as tf.Tensor1D,
        bound: null,
      }, this.options.lowrankCore);
    });
  }

  /** `[rows, 1]` of ones, or with `conditionDropout` zeros for the dropped rows (a new draw per call). */
  private dropoutKeep(rows: number): tf.Tensor {
    const rate = this.options.conditionDropout;
    if (rate === 0) return tf.ones([rows, 1]);
    // Seeds past those of the initial weights, a new one per draw.
    const seed = this.seedFor(104729 + this.dropoutDraws++);
    return tf.cast(tf.greaterEqual(tf.randomUniform([rows, 1], 0, 1, 'float32', seed), rate), 'float32');
  }

  /** Parameter vectors `[batch, totalParams]` from conditioning vectors z. */
  decode(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const bounds = this.boundLogits === null ? null : tf.softplus(this.boundLogits.read());
      if (this.options.decoder === 'full') {
        // One bound per layer, repeated over that layer's slice (tile keeps it differentiable).
        const boundVector = bounds === null ? null : tf.concat(this.slices.map((s, i) =>
          tf.tile(tf.slice(bounds, [i], [1]), [s.size])), 0) as tf.Tensor1D;
        return decodeFull(z, (this.fullKernel as tfl.LayerVariable).read() as tf.Tensor2D,
          (this.fullBias as tfl.LayerVariable).read() as tf.Tensor1D, boundVector);
      }
      const parts = this.slices.map((s, i) => {
        const v = this.lowRank[i];
        return decodeLowRank(z, s, {
          u: v.u.read() as tf.Tensor2D, v: v.v.read() as tf.Tensor2D,
          core: v.core.read() as tf.Tensor2D, coreBias: v.coreBias.read() as tf.Tensor1D,
          base: v.base.read() as tf.Tensor1D,
          biasKernel: v.biasKernel === null ? null : v.biasKernel.read() as tf.Tensor2D,
          biasBase: v.biasBase === null ? null : v.biasBase.read() as tf.Tensor1D,
          bound: bounds === null ? null : tf.slice(bounds, [i], [1]),
        }, this.options.lowrankCore);
      });
      return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor2D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      let z = this.encode(inputs);
      if (this.options.conditionDropout > 0 && kwargs?.training === true) {
        z = tf.mul(z, this.dropoutKeep(z.shape[0]));
      }
      return this.decode(z);
    });
  }

  /**
   * Makes the shared (per-sample-independent) part of one generated layer equal to the given
   * kernel and bias, e.g. a trained static model's. With `init: 'zero'` the generator then
   * starts out producing exactly those weights for every sample.
   */
  setStaticWeights(layerName: string, kernel: tf.Tensor | ArrayLike<number>,
      bias?: tf.Tensor | ArrayLike<number>): void {
    const index = this.slices.findIndex((s) => s.name === layerName);
    if (index < 0) {
      throw new Error(`'ParameterGenerator.setStaticWeights': no generated layer named ` +
        `'${layerName}'; generated layers: ${this.slices.map((s) => `'${s.name}'`).join(', ')}`);
    }
    if (!this.built) {
      throw new Error(`'ParameterGenerator.setStaticWeights' needs a built generator ` +
        `(apply it to an input first)`);
    }
    const slice = this.slices[index];
    tf.tidy(() => {
      const given = kernel instanceof tf.Tensor ? kernel : tf.tensor1d(Array.from(kernel));
      // A matrix must be [in, out] (tfjs's Dense layout); PyTorch's [out, in] would fit the
      // value count and silently become the wrong kernel.
      const badShape = given.rank === 2 ?
        given.shape[0] !== slice.inputDim || given.shape[1] !== slice.outputDim :
        given.rank !== 1 || given.size !== slice.inputDim * slice.outputDim;
      if (badShape) {
        throw new Error(`'kernel' passed to 'ParameterGenerator.setStaticWeights' for ` +
          `'${layerName}' must have shape [${slice.inputDim}, ${slice.outputDim}] (or ` +
          `${slice.inputDim * slice.outputDim} values, row-major), got ${shapeText(given.shape)}`);
      }
      const k = tf.reshape(given, [-1]);
      let b: tf.Tensor | null = null;
      if (bias !== undefined) {
        b = tf.reshape(bias instanceof tf.Tensor ? bias : tf.tensor(Array.from(bias)), [-1]);
        if (!slice.useBias || b.size !== slice.outputDim) {
          throw new Error(`'bias' passed to 'ParameterGenerator.setStaticWeights' for ` +
            `'${layerName}' must have ${slice.useBias ? slice.outputDim : 0} values, got ${b.size}`);
        }
      }
      if (this.options.decoder === 'full') {
        const full = this.fullBias as tfl.LayerVariable;
        const current = full.read();
        const pieces = [tf.slice(current, [0], [slice.offset]), k];
        const kernelEnd = slice.offset + slice.inputDim * slice.outputDim;
        pieces.push(b ?? tf.slice(current, [kernelEnd], [slice.size - slice.inputDim * slice.outputDim]));
        pieces.push(tf.slice(current, [slice.offset + slice.size]));
        full.write(tf.concat(pieces, 0));
      } else {
        const v = this.lowRank[index];
        v.base.write(k);
        if (b !== null) (v.biasBase as tfl.LayerVariable).write(b);
      }
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const o = this.options;
    const config: tf.serialization.ConfigDict = {
      layers: o.layers.map((l) => ({ ...l })) as unknown as tf.serialization.ConfigDictArray,
      input: o.input,
      embeddingDim: o.embeddingDim,
      encoder: o.encoder,
      decoder: o.decoder,
      rank: o.rank,
      lowrankCore: o.lowrankCore,
      init: o.init,
      stableWeights: o.stableWeights,
      normalizeCondition: o.normalizeCondition,
      conditionDropout: o.conditionDropout,
      detachCondition: o.detachCondition,
    };
    if (o.vocabSize !== null) config.vocabSize = o.vocabSize;
    if (o.conditionDim !== null) config.conditionDim = o.conditionDim;
    if (o.seed !== null) config.seed = o.seed;
    return { ...config, ...super.getConfig() };
  }
}
tf.serialization.registerClass(ParameterGenerator);

/**
 * Creates a {@link ParameterGenerator}, as `tf.layers.dense` creates a `Dense`.
 *
 * @example
 * ```ts
 * const generator = parameterGenerator({
 *   layers: [{ name: 'userTower1', inputDim: 32, outputDim: 32 }],
 *   vocabSize: 5000, encoder: 'attention', decoder: 'lowrank', rank: 4,
 * });
 * ```
 */
export function parameterGenerator(args: ParameterGeneratorArgs): ParameterGenerator {
  return new ParameterGenerator(args);
}
