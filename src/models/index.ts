// The reference models of the DUET paper: SASRec, GRU4Rec and DIN, base and DUET variants.
export {
  createModel, type CreatedModel, type CreateModelOptions, resolveModelOptions, type ResolvedConfig,
} from './create_model';
export { duetFromBase, type DuetFromBaseOptions } from './duet_from_base';
export {
  resolveSasrecOptions, sasrec, type SasrecConfig, type SasrecOptions,
} from './sasrec/sasrec';
export {
  gru4rec, resolveGru4recOptions, type Gru4recConfig, type Gru4recOptions,
} from './gru4rec/gru4rec';
export { din, resolveDinOptions, type DinConfig, type DinOptions } from './din/din';
export { CLICK_INPUT, TARGET_INPUT } from './common/blocks';
export type {
  CommonConfig, CommonModelOptions, DenseActivation, GeneratorCondition, GeneratorOptions, ModelKind,
  ModelVariant,
  GeneratorConfig, TowerConfig, TowerOptions,
} from './common/options';
