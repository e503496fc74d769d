/**
 * `GeneratorRunner`: runs a generator model on validated request rows, one forward pass per
 * batch, and knows what the generator accepts (ids, embeddings, length, vocabulary).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { ParameterGenerator } from '../layers/parameter_generator';
import { directForward } from '../wrap/direct_forward';
import { findParameterGenerator } from './find_generator';
import { generatorFingerprint } from './fingerprint';
import { PackedRows, packRows } from './packed_rows';
import { PayloadLayer } from './payload';
import { GeneratorRow, RequestLimits } from './requests';

/** Options of {@link GeneratorRunner}. */
export interface GeneratorRunnerOptions {
  /**
   * Generator input length L, needed only when the model's input length is not fixed.
   * Default: the model's input length.
   */
  sequenceLength?: number;
  /** Vocabulary size (ids including padding 0). Default: the ParameterGenerator's `vocabSize`. */
  vocabSize?: number;
}

/** What a generator accepts and produces. */
export interface GeneratorInfo {
  /** Fingerprint stamped into every payload ({@link generatorFingerprint}). */
  fingerprint: string;
  /** The generated layers, in the order of the parameter vector. */
  layout: PayloadLayer[];
  /** Values per parameter vector. */
  total: number;
  /** Generator input length L. */
  sequenceLength: number;
  /** Vocabulary size when item-id requests are accepted, else null. */
  vocabSize: number | null;
  /** Embedding size when embedding requests are accepted, else null. */
  embeddingDim: number | null;
}

type Runner = (input: tf.Tensor[]) => tf.Tensor;

function positive(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new Error(`'${key}' passed to 'GeneratorRunner' must be a positive integer, got ` +
      `${String(value)}`);
  }
  return value as number;
}

/**
 * Runs a generator model (from {@link splitDuet}, or a saved generator) on request rows.
 *
 * Two input shapes are understood: one `[batch, L]` ids input (item-id requests; embedding
 * requests too when the ids feed the ParameterGenerator directly, see below), or
 * `[batch, L, dim]` embeddings plus a `[batch, L]` mask (embedding requests only).
 *
 * Embeddings for an ids generator: the device looks its items up in the generator's own
 * embedding table (published with {@link generatorEmbeddingTable}) and sends the vectors; the
 * runner feeds them to a twin of the ParameterGenerator that skips the lookup and shares every
 * other weight, so both request kinds give the same parameters for the same items.
 *
 * @example
 * ```ts
 * const runner = new GeneratorRunner(splitDuet(duetModel).generator);
 * const params = await runner.generate([{ kind: 'ids', ids: [3, 9, 27] }]); // [1 × total]
 * ```
 */
export class GeneratorRunner {
  /** What the generator accepts and produces. */
  readonly info: GeneratorInfo;
  /** Request limits for {@link parseParametersRequest} (without `maxSequences`). */
  readonly limits: Omit<RequestLimits, 'maxSequences'>;

  private readonly layer: ParameterGenerator;
  private readonly runIds: Runner | null;
  private readonly runEmbeddings: Runner | null;
  private twin: ParameterGenerator | null = null;

  constructor(readonly generator: tfl.LayersModel, options: GeneratorRunnerOptions = {}) {
    const caller = 'GeneratorRunner';
    this.layer = findParameterGenerator(generator, caller);
    const shapes = generator.inputs.map((t) => t.shape);
    const override = positive(options.sequenceLength, 'sequenceLength');
    const lengthOf = (shape: Array<number | null>) => {
      const length = shape[1] ?? override;
      if (length === undefined) {
        throw new Error(`'${caller}': the generator's input length is not fixed; pass ` +
          `'sequenceLength'`);
      }
      return length;
    };
    let sequenceLength: number;
    let vocabSize: number | null = null;
    let embeddingDim: number | null = null;
    if (shapes.length === 1 && shapes[0].length === 2) {
      sequenceLength = lengthOf(shapes[0]);
      vocabSize = positive(options.vocabSize, 'vocabSize') ?? this.layer.options.vocabSize;
      if (vocabSize === null) {
        throw new Error(`'${caller}': cannot tell the vocabulary size of the ids input; pass ` +
          `'vocabSize'`);
      }
      // One pass per call (predict's default batchSize, 32, would split a micro-batch), the
      // layers run directly on the tensors: predict's values without its bookkeeping.
      const forward = directForward(generator);
      this.runIds = (inputs) => forward(inputs)[0];
      this.twin = this.embeddingsTwin(generator, sequenceLength);
      embeddingDim = this.twin === null ? null : this.layer.options.embeddingDim;
      const twin = this.twin;
      this.runEmbeddings = twin === null ? null :
        (inputs) => twin.apply(inputs) as tf.Tensor;
    } else if (shapes.length === 2 && shapes[0].length === 3 && shapes[1].length === 2 &&
        shapes[0][2] !== null) {
      sequenceLength = lengthOf(shapes[0]);
      embeddingDim = shapes[0][2];
      this.runIds = null;
      const forward = directForward(generator);
      this.runEmbeddings = (inputs) => forward(inputs)[0];
    } else {
      throw new Error(`'${caller}' needs a generator with one ids input [batch, time] or two ` +
        `inputs [embeddings [batch, time, dim], mask [batch, time]], got ` +
        `${shapes.map((s) => `[${s.map((d) => d ?? 'batch').join(', ')}]`).join(' and ')}`);
    }
    const layout = this.layer.slices.map((s) => ({
      name: s.name, inputDim: s.inputDim, outputDim: s.outputDim, useBias: s.useBias,
    }));
    this.info = {
      fingerprint: generatorFingerprint(generator),
      layout,
      total: this.layer.totalParams,
      sequenceLength,
      vocabSize,
      embeddingDim,
    };
    this.limits = { sequenceLength, vocabSize, embeddingDim };
  }

  /** A ParameterGenerator reading embeddings with the ids generator's other weights, or null. */
  private embeddingsTwin(generator: tfl.LayersModel, length: number): ParameterGenerator | null {
    const layer = this.layer;
    let direct = false;
    try {
      direct = (layer.input as tfl.SymbolicTensor).id === generator.inputs[0].id;
    } catch {
      direct = false; // the layer has several call sites: not a plain input → generator model
    }
    if (!direct || layer.options.input !== 'ids') return null;
    const o = layer.options;
    const twin = new ParameterGenerator({
      layers: o.layers, input: 'embeddings', embeddingDim: o.embeddingDim, encoder: o.encoder,
      conditionDim: o.conditionDim ?? undefined, decoder: o.decoder, rank: o.rank,
      lowrankCore: o.lowrankCore, init: o.init, stableWeights: o.stableWeights,
      normalizeCondition: o.normalizeCondition, name: `${layer.name}_embeddings`,
    });
    twin.build([[null, length, o.embeddingDim], [null, length]]);
    // The ids generator's first weight is its embedding table; the rest line up one to one.
    const weights = layer.weights.slice(1);
    if (twin.weights.length !== weights.length ||
        twin.weights.some((w, i) => w.shape.join() !== weights[i].shape.join())) {
      twin.weights.forEach((w) => w.dispose());
      return null;
    }
    twin.setWeights(weights.map((w) => w.read()));
    return twin;
  }

  /**
   * Parameter vectors for the rows, `[rows.length × total]` row-major, in one forward pass per
   * request kind present.
   */
  async generate(rows: readonly GeneratorRow[]): Promise<Float32Array> {
    return this.generatePacked(packRows(rows, this.info.sequenceLength, this.info.embeddingDim));
  }

  /**
   * {@link GeneratorRunner.generate} on rows already packed ({@link packRows}): what a generator
   * thread runs on the arrays it is sent.
   */
  async generatePacked(packed: PackedRows): Promise<Float32Array> {
    const total = this.info.total;
    const L = this.info.sequenceLength;
    const { count, kinds } = packed;
    const idRows = packed.ids.length / L;
    const embRows = count - idRows;
    if (!Number.isInteger(idRows) || embRows < 0 || kinds.length !== count) {
      throw new Error(`'GeneratorRunner': a packed batch of ${count} rows holds ${packed.ids.length} ` +
        `ids for length ${L}`);
    }
    // Row indices of each kind (built only for a batch that mixes them).
    const mixed = idRows > 0 && embRows > 0;
    const idIndex: number[] = [];
    const embIndex: number[] = [];
    if (mixed) kinds.forEach((k, i) => (k === 0 ? idIndex : embIndex).push(i));
    // One kind (the usual batch): the forward pass's output is already in row order.
    const out = mixed ? new Float32Array(count * total) : null;
    if (idRows > 0) {
      if (this.runIds === null) throw new Error(`'GeneratorRunner' does not accept item ids`);
      const run = this.runIds;
      const result = tf.tidy(() => run([tf.tensor2d(packed.ids, [idRows, L])]));
      if (out === null) return this.values(result);
      await this.scatter(result, idIndex, out);
    }
    if (embRows > 0) {
      if (this.runEmbeddings === null) {
        throw new Error(`'GeneratorRunner' does not accept embeddings`);
      }
      const run = this.runEmbeddings;
      const dim = this.info.embeddingDim as number;
      const result = tf.tidy(() => run([
        tf.tensor3d(packed.embeddings, [embRows, L, dim]), tf.tensor2d(packed.mask, [embRows, L]),
      ]));
      if (out === null) return this.values(result);
      await this.scatter(result, embIndex, out);
    }
    return out ?? new Float32Array(0);
  }

  /** The result's values (a copy, or storage no tensor uses any more), then disposes it. */
  private async values(result: tf.Tensor): Promise<Float32Array> {
    try {
      const values = await result.data() as Float32Array;
      // A backend may hand out its own storage, shared with any tensor of the same data
      // (e.g. an identity over a weight): copy unless the result held the only reference.
      return tf.engine().backend.refCount(result.dataId) > 1 ? values.slice() : values;
    } finally {
      result.dispose();
    }
  }

  private async scatter(result: tf.Tensor, indices: number[], out: Float32Array): Promise<void> {
    const total = this.info.total;
    try {
      const values = await result.data() as Float32Array;
      indices.forEach((index, b) => out.set(values.subarray(b * total, (b + 1) * total), index * total));
    } finally {
      result.dispose();
    }
  }

  /**
   * The parameters the generator produces for a zero conditioning vector: the shared part of
   * every generated layer. Devices of non-residual models fall back to these when the service is
   * out of reach (for residual models the fallback is all zeros: the static layers alone).
   */
  baseParameters(): Float32Array {
    const params = tf.tidy(() => this.layer.decode(tf.zeros([1, this.layer.conditionDim])));
    const values = Float32Array.from(params.dataSync());
    params.dispose();
    return values;
  }

  /** Releases the embeddings twin's weights (the generator model stays the caller's). */
  dispose(): void {
    this.twin?.weights.forEach((w) => w.dispose());
    this.twin = null;
  }
}
