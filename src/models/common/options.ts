/**
 * Options every reference model shares, their resolved (defaults filled, JSON-ready) form, and the
 * checks that turn a bad option into an error naming it.
 */
import { getActivation } from '../../layers/activations';
import type { ActivationName } from '../../layers/activations';
import { ENCODER_KINDS, type EncoderKind } from '../../layers/generator/encoders';
import { DECODER_KINDS, type DecoderKind, type LowRankCore } from '../../layers/generator/decoders';
import type { GeneratorInit } from '../../layers/parameter_generator';

/**
 * The reference architectures.
 *
 * @example
 * ```ts
 * const kind: ModelKind = 'gru4rec';
 * ```
 */
export type ModelKind = 'sasrec' | 'gru4rec' | 'din';
export const MODEL_KINDS: readonly ModelKind[] = ['sasrec', 'gru4rec', 'din'];

/**
 * `'base'`: the static model. `'duet'`: the same model with generated layers (see `duetFromBase`).
 *
 * @example
 * ```ts
 * const variant: ModelVariant = 'duet';
 * ```
 */
export type ModelVariant = 'base' | 'duet';
export const MODEL_VARIANTS: readonly ModelVariant[] = ['base', 'duet'];

/**
 * An activation a dense layer of the models may use (one `DynamicDense` also supports).
 *
 * @example
 * ```ts
 * const activation: DenseActivation = 'relu';
 * ```
 */
export type DenseActivation = ActivationName;

/**
 * Options of the DUET parameter generator (see `ParameterGenerator`); `layers`, `input` and
 * `vocabSize` are filled in by the model.
 *
 * @example
 * ```ts
 * const generator: GeneratorOptions = { encoder: 'mean', decoder: 'lowrank', rank: 4 };
 * ```
 */
export interface GeneratorOptions {
  /**
   * What the generator reads. `'ids'`: the click ids, through its own item embedding table.
   * `'history'`: the model's own embedded click history (the output of `sequenceTransform`,
   * masked by the click padding), as the authors' generator reads it: it starts from embeddings
   * the base model has already learnt, which makes one epoch of DUET training count (on MovieLens,
   * 1 + 1 epochs of SASRec: UAUC 0.837 against 0.831 with `'ids'`). `'history'` needs
   * `sequenceTransform: true`; `'ids'` gives a generator that serves embeddings requests too.
   * `'positions'` (SASRec only): the output of its `positionEmbedding` layer (item plus position
   * embeddings, masked by the click padding), so it works without `sequenceTransform`; with the
   * `'gru'` encoder every position's conditioning vector reads only its prefix, which is what
   * sequence-level training on seq-loo-v1 needs (the default of `duet-tf compare` there).
   * Default `'history'` (`'ids'` without `sequenceTransform`).
   */
  condition?: GeneratorCondition;
  /** Size of the generator's own item embeddings (`condition: 'ids'` only). Default: the model's `dim`. */
  embeddingDim?: number;
  /** Encoder: `'gru'` (the authors'), `'mean'`, `'attention'` or `'last'`. Default `'gru'`. */
  encoder?: EncoderKind;
  /** Size of the conditioning vector. Default: `embeddingDim`. */
  conditionDim?: number;
  /**
   * `'full'` (the authors') or `'lowrank'`. Default `'full'`; DIN: `'lowrank'`, because its
   * generated MLP layers are wide (96→128→64 at D = 32: 20.7k parameters per user, which the full
   * decoder would generate with 0.66M weights).
   */
  decoder?: DecoderKind;
  /** Rank of the low-rank decoder. Default 8. */
  rank?: number;
  /** Core of the low-rank decoder, `'diag'` or `'matrix'`. Default `'diag'`. */
  lowrankCore?: LowRankCore;
  /**
   * `'zero'`: the DUET model starts out predicting exactly like its base model; `'glorot'`:
   * generated kernels start random. Default `'zero'`.
   */
  init?: GeneratorInit;
  /** Bound each layer's per-sample deviation (Stable Weight Adapter). Default false. */
  stableWeights?: boolean;
  /**
   * Standardise the conditioning vector per sample. Default false: the generator reads the
   * encoder state as it is, as the authors' does. Standardising scales every per-user deviation up
   * (each of the `conditionDim` entries has unit variance), so the generated weights move several
   * times faster than the static ones under the same Adam step; on MovieLens (1 epoch, from
   * scratch) turning it off raised AUC and UAUC for all three models.
   */
  normalizeCondition?: boolean;
  /**
   * Training only: the probability, per row, that the generator reads no history (its
   * conditioning vector is zeroed), so the row is scored with the shared weights alone; those
   * then carry what all users share, and the generated part only what differs. Default 0; DIN:
   * 0.5 (with `detachCondition`, the pair that lifted DUET-DIN's MovieLens NDCG@10 above base's
   * in docs/RESULTS.md; tune both on validation data for your own).
   */
  conditionDropout?: number;
  /**
   * With `condition: 'history'`: the generator reads the embedded history without training the
   * item embeddings and history transform through it, so those learn from the task alone. Default
   * false; DIN: true.
   */
  detachCondition?: boolean;
  /** Seed of the generator's initial weights. Default: the model's `seed`. */
  seed?: number | null;
}

/**
 * What a reference model's generator reads: the click ids (`'ids'`), the model's own embedded
 * click history (`'history'`: after `sequenceTransform`) or SASRec's position-embedded history
 * (`'positions'`: the output of `positionEmbedding`).
 *
 * @example
 * ```ts
 * const condition: GeneratorCondition = 'history';
 * ```
 */
export type GeneratorCondition = 'ids' | 'history' | 'positions';
export const GENERATOR_CONDITIONS: readonly GeneratorCondition[] = ['ids', 'history', 'positions'];

/**
 * {@link GeneratorOptions} with every default filled in.
 *
 * @example
 * ```ts
 * const { config } = createModel({ model: 'din', numItems: 100 });
 * config.generator.encoder; // 'gru'
 * ```
 */
export interface GeneratorConfig {
  condition: GeneratorCondition;
  embeddingDim: number;
  encoder: EncoderKind;
  conditionDim: number;
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

/**
 * Options every reference model takes.
 *
 * @example
 * ```ts
 * const common: CommonModelOptions = { numItems: 5000, clickLength: 30, dim: 32, seed: 1 };
 * ```
 */
export interface CommonModelOptions {
  /** `'base'` (static) or `'duet'` (generated layers, built with `duetWrap`). Default `'base'`. */
  variant?: ModelVariant;
  /** Largest item id: ids are 1..numItems, 0 is padding (vocabulary numItems + 1). Required. */
  numItems: number;
  /** Width of the `click` input (item ids, 0-padded on either side). Default 30. */
  clickLength?: number;
  /** Item embedding size D, shared by history and target; also the towers' width. Default 32. */
  dim?: number;
  /** Seed of every initial weight, for reproducible models. Default: unseeded. */
  seed?: number | null;
  /**
   * Whether history embeddings pass a `Dense(D, tanh)` named `'sequenceTransform'` before the
   * sequence encoder, as in the authors' models. Default true.
   */
  sequenceTransform?: boolean;
  /**
   * Add a learned per-item bias to the logit (`itemBias`, see the model docs): what all users
   * share about an item, mostly its popularity, learnt directly. Default false.
   */
  itemBias?: boolean;
  /**
   * Names of the Dense layers the DUET variant generates. Default: per architecture (the user
   * tower's; none with `towerLayers: 0`, which a DUET variant refuses).
   */
  dynamicLayers?: string[];
  /**
   * DUET variant: generated layers keep the base kernels and add a per-sample delta (`duetWrap`'s
   * `residual`). Default true.
   */
  residual?: boolean;
  /** Generator options of the DUET variant (also resolved for `'base'`, for a later DUET). */
  generator?: GeneratorOptions;
}

/**
 * {@link CommonModelOptions} with every default filled in, plus the architecture.
 *
 * @example
 * ```ts
 * const { config } = createModel({ model: 'sasrec', numItems: 100 });
 * config.clickLength; // 30
 * ```
 */
export interface CommonConfig {
  model: ModelKind;
  variant: ModelVariant;
  numItems: number;
  clickLength: number;
  dim: number;
  seed: number | null;
  sequenceTransform: boolean;
  itemBias: boolean;
  dynamicLayers: string[];
  residual: boolean;
  generator: GeneratorConfig;
}

/**
 * Options of the two-tower models (SASRec, GRU4Rec): user and target towers, scored by a dot.
 *
 * @example
 * ```ts
 * const towers: TowerOptions = { towerLayers: 3, towerActivation: 'relu' };
 * ```
 */
export interface TowerOptions {
  /**
   * Dense layers per tower (`userTower1..N`, `targetTower1..N`), each D wide. 0: no towers, the
   * score is the dot product of the sequence encoder's state and the item embedding (SASRec's and
   * GRU4Rec's own head; the DUET variant then needs `dynamicLayers` named). Default 2.
   */
  towerLayers?: number;
  /** Activation of every tower layer but the last (which is linear). Default `'tanh'`. */
  towerActivation?: DenseActivation;
  /**
   * Add `userAdapter`, a linear `Dense(D)` whose kernel starts as the identity, after the user
   * tower (or on the encoder state with `towerLayers: 0`): the layer a DUET variant generates by
   * default when it is on. Since it starts as the identity, `duetFromBase` can add it to a
   * trained base model that has none, and the DUET model then starts out predicting exactly like
   * that base (the seq-loo-v1 flow of `duet-tf compare --duet-from base`). Default false.
   */
  userAdapter?: boolean;
}

/**
 * {@link TowerOptions} resolved.
 *
 * @example
 * ```ts
 * resolveSasrecOptions({ numItems: 100 }).towerLayers; // 2
 * ```
 */
export interface TowerConfig {
  towerLayers: number;
  towerActivation: DenseActivation;
  userAdapter: boolean;
}

const COMMON_KEYS = ['model', 'variant', 'numItems', 'clickLength', 'dim', 'seed',
  'sequenceTransform', 'itemBias', 'dynamicLayers', 'residual', 'generator'];
const TOWER_KEYS = ['towerLayers', 'towerActivation', 'userAdapter'];
const GENERATOR_KEYS = ['condition', 'embeddingDim', 'encoder', 'conditionDim', 'decoder', 'rank',
  'lowrankCore', 'init', 'stableWeights', 'normalizeCondition', 'conditionDropout', 'detachCondition', 'seed'];

/** Generator defaults that differ by architecture (DIN's, for instance). */
type GeneratorDefaults = Partial<Pick<GeneratorConfig, 'decoder' | 'conditionDropout' | 'detachCondition'>>;

/** Reads options of one model factory; every error names the factory and the option. */
export class OptionReader {
  constructor(readonly caller: string, private readonly options: Record<string, unknown>) {}

  private fail(name: string, must: string, value: unknown): never {
    const shown = typeof value === 'string' ? `'${value}'` :
      Array.isArray(value) ? JSON.stringify(value) : String(value);
    throw new Error(`'${name}' passed to '${this.caller}' must be ${must}, got ${shown}`);
  }

  /** Throws on any key outside `known` (a misspelt option would otherwise be silently ignored). */
  checkKeys(known: readonly string[], value: Record<string, unknown> = this.options,
      prefix = ''): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        throw new Error(`unknown option '${prefix}${key}' passed to '${this.caller}'; known: ` +
          known.join(', '));
      }
    }
  }

  int(name: string, fallback: number | undefined, min = 1, value = this.options[name]): number {
    const v = value ?? fallback;
    if (v === undefined) throw new Error(`'${name}' passed to '${this.caller}' is required`);
    if (!Number.isInteger(v) || (v as number) < min) {
      this.fail(name, min === 1 ? 'a positive integer' : `an integer >= ${min}`, v);
    }
    return v as number;
  }

  bool(name: string, fallback: boolean, value = this.options[name]): boolean {
    const v = value ?? fallback;
    if (typeof v !== 'boolean') this.fail(name, 'true or false', v);
    return v as boolean;
  }

  rate(name: string, fallback: number, value = this.options[name]): number {
    const v = value ?? fallback;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) this.fail(name, 'a number in [0, 1)', v);
    return v as number;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T,
      value = this.options[name]): T {
    const v = value ?? fallback;
    if (!allowed.includes(v as T)) {
      this.fail(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
    }
    return v as T;
  }

  activation(name: string, fallback: DenseActivation, value = this.options[name]): DenseActivation {
    const v = value ?? fallback;
    try {
      getActivation(String(v), this.caller);
    } catch {
      this.fail(name, 'an activation dynamic layers support (linear, relu, tanh, sigmoid, elu, ' +
        'selu, softplus, relu6, swish)', v);
    }
    return v as DenseActivation;
  }

  intArray(name: string, fallback: number[], value = this.options[name]): number[] {
    const v = value ?? fallback;
    if (!Array.isArray(v) || v.length === 0 || !v.every((u) => Number.isInteger(u) && u > 0)) {
      this.fail(name, 'a non-empty array of positive integers', v);
    }
    return [...(v as number[])];
  }

  seed(name: string, fallback: number | null, value = this.options[name]): number | null {
    const v = value ?? fallback;
    if (v !== null && !Number.isInteger(v)) this.fail(name, 'an integer or null', v);
    return v as number | null;
  }

  /** The options shared by every model, for architecture `model`. */
  common(model: ModelKind, defaultDynamic: string[], extraKeys: readonly string[],
      generatorDefaults: GeneratorDefaults = {}): CommonConfig {
    this.checkKeys([...COMMON_KEYS, ...extraKeys]);
    const given = this.options.model;
    if (given !== undefined && given !== model) {
      throw new Error(`'model' passed to '${this.caller}' must be '${model}' (or left out), got ` +
        `${JSON.stringify(given)}`);
    }
    const dim = this.int('dim', 32);
    const seed = this.seed('seed', null);
    const variant = this.oneOf('variant', MODEL_VARIANTS, 'base');
    const dynamic = this.options.dynamicLayers ?? defaultDynamic;
    const none = Array.isArray(dynamic) && dynamic.length === 0;
    if (defaultDynamic.length === 0 && none) {
      // towerLayers 0: no user-tower layer to generate by default. A base model records none.
      if (variant === 'duet') {
        throw new Error(`'towerLayers' passed to '${this.caller}' is 0, which leaves the DUET variant no ` +
          `user-tower layer to generate; set towerLayers >= 1 or name the layers in 'dynamicLayers'`);
      }
    } else if (!Array.isArray(dynamic) || dynamic.length === 0 ||
        !dynamic.every((n) => typeof n === 'string' && n !== '')) {
      this.fail('dynamicLayers', 'a non-empty array of layer names', dynamic);
    }
    return {
      model,
      variant,
      numItems: this.int('numItems', undefined),
      clickLength: this.int('clickLength', 30),
      dim,
      seed,
      sequenceTransform: this.bool('sequenceTransform', true),
      itemBias: this.bool('itemBias', false),
      dynamicLayers: [...(dynamic as string[])],
      residual: this.bool('residual', true),
      generator: this.generator(dim, seed, generatorDefaults),
    };
  }

  /** The two-tower options. */
  towers(): TowerConfig {
    return {
      towerLayers: this.int('towerLayers', 2, 0),
      towerActivation: this.activation('towerActivation', 'tanh'),
      userAdapter: this.bool('userAdapter', false),
    };
  }

  private generator(dim: number, modelSeed: number | null, defaults: GeneratorDefaults):
      GeneratorConfig {
    const raw = this.options.generator ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      this.fail('generator', 'an object of generator options', raw);
    }
    const g = raw as Record<string, unknown>;
    this.checkKeys(GENERATOR_KEYS, g, 'generator.');
    const embeddingDim = this.int('generator.embeddingDim', dim, 1, g.embeddingDim);
    const normalizeCondition = this.bool('generator.normalizeCondition', false,
      g.normalizeCondition);
    const conditionDim = this.int('generator.conditionDim', embeddingDim, 1, g.conditionDim);
    if (normalizeCondition && conditionDim < 2) {
      this.fail('generator.conditionDim', 'at least 2 when normalizeCondition is on', conditionDim);
    }
    const condition = this.oneOf('generator.condition', GENERATOR_CONDITIONS,
      this.options.sequenceTransform === false ? 'ids' : 'history', g.condition);
    // Detaching only applies to the model's own history; an 'ids' generator trains its own table.
    const detachCondition = this.bool('generator.detachCondition',
      condition !== 'ids' && (defaults.detachCondition ?? false), g.detachCondition);
    if (detachCondition && condition === 'ids') {
      this.fail('generator.detachCondition', "false with condition 'ids'", detachCondition);
    }
    return {
      condition,
      embeddingDim,
      encoder: this.oneOf('generator.encoder', ENCODER_KINDS, 'gru', g.encoder),
      conditionDim,
      decoder: this.oneOf('generator.decoder', DECODER_KINDS, defaults.decoder ?? 'full', g.decoder),
      rank: this.int('generator.rank', 8, 1, g.rank),
      lowrankCore: this.oneOf('generator.lowrankCore', ['diag', 'matrix'] as const, 'diag',
        g.lowrankCore),
      init: this.oneOf('generator.init', ['zero', 'glorot'] as const, 'zero', g.init),
      stableWeights: this.bool('generator.stableWeights', false, g.stableWeights),
      normalizeCondition,
      conditionDropout: this.rate('generator.conditionDropout', defaults.conditionDropout ?? 0,
        g.conditionDropout),
      detachCondition,
      seed: this.seed('generator.seed', modelSeed, g.seed),
    };
  }
}

/** Name of the identity-initialised user-side layer of `userAdapter: true`. */
export const USER_ADAPTER = 'userAdapter';

/** Keys a two-tower model accepts besides the common ones. */
export const TOWER_OPTION_KEYS: readonly string[] = TOWER_KEYS;

/** Checks the options argument itself is an object. */
export function optionsObject(options: unknown, caller: string): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(`'${caller}' needs an options object with at least 'numItems'`);
  }
  return options as Record<string, unknown>;
}
