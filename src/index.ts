/**
 * duet-tf: DUET-style device-cloud parameter generation for TensorFlow.js.
 *
 * A cloud-side hypernetwork ({@link ParameterGenerator}) reads a user's recent behaviour and
 * generates the weights of the device model's last layers ({@link DynamicDense}); any
 * tfjs-layers model gets there with {@link duetWrap}, and {@link splitDuet} separates the
 * cloud and device halves.
 *
 * Guides (in the documentation's sidebar): Wrap your model, Train on your data, Serve, Device.
 *
 * @packageDocumentation
 * @module duet-tf
 */
import { fillKernelGaps } from './backend/register_kernels';

// Importing duet-tf fills tfjs's kernel and gradient gaps (never replacing what tfjs has).
fillKernelGaps();

// Layers: the primitives.
export { DynamicDense, dynamicDense } from './layers/dynamic_dense';
export type { DynamicDenseArgs } from './layers/dynamic_dense';
export type { ActivationName } from './layers/activations';
export { ParameterGenerator, parameterGenerator } from './layers/parameter_generator';
export type {
  GeneratorInit, GeneratorInputKind, ParameterGeneratorArgs, ResolvedGeneratorOptions,
} from './layers/parameter_generator';
export type { EncoderKind } from './layers/generator/encoders';
export type { DecoderKind, LowRankCore } from './layers/generator/decoders';
export { paramCount, paramLayout } from './layers/param_layout';
export type { DynamicLayerSpec, ParamSlice } from './layers/param_layout';

// Wrapping existing models, splitting them, saving them.
export { duetWrap, GENERATOR_NAME } from './wrap/duet_wrap';
export type { DuetCondition, DuetWrapOptions } from './wrap/duet_wrap';
export { PARAMS_INPUT_NAME, splitDuet } from './wrap/split_duet';
export { directForward, withDirectPredict, type DirectForward } from './wrap/direct_forward';
export {
  dotItems, itemTowerOutputs, scoreTwoTower, splitTwoTower, twoTowerReason, userTowerOutputs,
} from './wrap/two_tower';
export type { TwoTowerOptions, TwoTowerParts } from './wrap/two_tower';
export type { DuetParts } from './wrap/split_duet';
export { sequenceView, sequenceViewReason } from './wrap/sequence_view';
export type { SequenceView } from './wrap/sequence_view';
export { fileSystem, loadDuet, saveDuet } from './wrap/file_io';
export type { SaveOptions } from './wrap/file_io';
export { resolveModelFolder, writeModelFolder } from './wrap/model_folder';
export { checkFiniteWeights } from './wrap/finite_weights';
export type { ModelFolderFiles, WriteModelFolderOptions } from './wrap/model_folder';

// Metrics.
export {
  auc, evaluateRanking, hrAtK, logloss, LOGLOSS_EPSILON, ndcgAtK, uauc,
} from './eval/index';
export type { EvaluateRankingOptions, LoglossOptions, RankingReport, UserId } from './eval/index';

// Data: the duet-seq-v1 protocol, readers (Node), synthetic data, dataset helpers.
export { buildDuetSplit } from './data/build_duet_split';
export { synthetic } from './data/synthetic';
export type { SyntheticOptions, SyntheticSplit, SyntheticTruth } from './data/synthetic';
export { readDuetFile, iterateDuetRows } from './data/read_duet_file';
export type { DuetRow, ReadDuetFileOptions } from './data/read_duet_file';
export { readRatings, readRatingsTable } from './data/read_ratings';
export type { RatingsSummary, ReadRatingsOptions } from './data/read_ratings';
export {
  formatIdMap, IdMap, ITEM_MAP_FILE, parseIdMap, readIdMap, readItemMap, USER_MAP_FILE, writeIdMap,
} from './data/id_map';
export { readSequenceFile } from './data/read_sequence_file';
export { readDuetSplit, writeDuetFile, writeDuetSplit } from './data/duet_split_io';
export { checkDataset } from './data/check_dataset';
export { concatDatasets } from './data/concat_datasets';
export { sliceDataset } from './data/slice_dataset';
export { splitValidation } from './data/split_validation';
export { isTestSet } from './data/test_marks';
export { createRng, mulberry32 } from './data/rng';
export {
  buildSeqLooSplit, SEQ_LOO_MIN_INTERACTIONS, SEQ_LOO_PROTOCOL, seqLooHistory, seqLooTarget,
  seqLooTrainSequence,
} from './data/protocols/seq_loo';
export type {
  SeqLooIdMapping, SeqLooOptions, SeqLooPart, SeqLooProtocol, SeqLooSplit,
} from './data/protocols/seq_loo';
export { isSeqLooFolder, readSeqLooSplit, SEQ_LOO_FILES, writeSeqLooSplit } from './data/protocols/seq_loo_io';
export { seqLooTrainingRows } from './data/protocols/seq_loo_rows';
export type { SeqLooRowOptions } from './data/protocols/seq_loo_rows';
export type { Rng } from './data/rng';
export type {
  DuetDataset, DuetProtocol, DuetSplit, DuetSplitOptions, UserSequence,
} from './data/types';

// Backends: tfjs-node → wasm → cpu, and the kernels duet-tf adds to them.
export { BACKEND_PRIORITY, currentBackend, registerDuetKernels, useBackend } from './backend/index';
export { fillKernelGaps } from './backend/register_kernels';
export type {
  BackendChoice, BackendLoader, BackendName, UseBackendOptions, WasmPaths,
} from './backend/index';

// Sequence layers the reference models are built from.
export { Gru, gru } from './layers/gru';
export type { GruArgs } from './layers/gru';
export { MultiHeadAttention, multiHeadAttention } from './layers/multi_head_attention';
export type { MultiHeadAttentionArgs } from './layers/multi_head_attention';
export { PositionEmbedding, positionEmbedding } from './layers/position_embedding';
export type { PositionEmbeddingArgs, PositionOrigin } from './layers/position_embedding';
export { SequenceMask, sequenceMaskLayer } from './layers/sequence_mask';
export type { SequenceMaskArgs } from './layers/sequence_mask';
export { SequencePooling, sequencePooling } from './layers/sequence_pooling';
export type { PoolingMode, SequencePoolingArgs } from './layers/sequence_pooling';
export { TargetAttention, targetAttention } from './layers/target_attention';
export type { AttentionNormalization, TargetAttentionArgs } from './layers/target_attention';
export { TransformerBlock, transformerBlock } from './layers/transformer_block';
export type { FfnActivation, NormPlacement, TransformerBlockArgs } from './layers/transformer_block';
export { gatherLastValid, lastValidIndex } from './layers/ops/last_valid';
export { maskedMax, maskedMean } from './layers/ops/masked_pooling';
export { sequenceMask } from './layers/ops/sequence_mask';

// Reference models: SASRec, GRU4Rec, DIN (base and DUET).
export {
  CLICK_INPUT, createModel, din, duetFromBase, gru4rec, resolveDinOptions, resolveGru4recOptions,
  resolveModelOptions, resolveSasrecOptions, sasrec, TARGET_INPUT,
} from './models/index';
export type {
  CommonConfig, CommonModelOptions, CreatedModel, CreateModelOptions, DenseActivation, DinConfig,
  DinOptions, DuetFromBaseOptions, GeneratorCondition, GeneratorConfig, GeneratorOptions, Gru4recConfig, Gru4recOptions, ModelKind, ModelVariant,
  ResolvedConfig, SasrecConfig, SasrecOptions, TowerConfig, TowerOptions,
} from './models/index';

// Training, the fine-tune baseline, evaluation and inference.
export { train } from './train/train';
export type { EpochLog, TrainData, TrainOptions, TrainResult } from './train/train';
export { finetune } from './train/finetune';
export type { FinetuneData, FinetuneOptions, FinetuneReport, FinetuneResult } from './train/finetune';
export { datasetBatches, epochOrder } from './train/batches';
export type { BatchOptions, DuetBatch } from './train/batches';
export { bceWithLogits, clipByGlobalNorm } from './train/train_step';
export { trainSequence } from './train/sequence/train_sequence';
export type {
  SequenceEpochLog, SequenceStop, SequenceTrainOptions, SequenceTrainResult,
} from './train/sequence/train_sequence';
export { sequenceBatches } from './train/sequence/sequence_batches';
export type { SequenceBatch, SequenceBatchOptions, SequenceTable } from './train/sequence/sequence_batches';
export { createObjective, registerObjective } from './train/objective';
export type {
  ObjectiveBatch, ObjectiveBatchOptions, ObjectiveFactory, ObjectiveLoss, ObjectiveShard, ObjectiveSpec,
  TrainingObjective,
} from './train/objective';
export { SequenceObjective } from './train/objectives/sequence';
export type { SequenceData, SequenceObjectiveOptions } from './train/objectives/sequence';
export { sequenceObjective } from './train/sequence/sequence_objective';
export { createSequenceLoss, SEQUENCE_LOSSES } from './train/losses/create_loss';
export { bceLoss } from './train/losses/bce';
export type { BceOptions } from './train/losses/bce';
export { crossEntropyLoss } from './train/losses/cross_entropy';
export type { CrossEntropyOptions } from './train/losses/cross_entropy';
export { sampledSoftmaxLoss } from './train/losses/sampled_softmax';
export type { SampledSoftmaxOptions } from './train/losses/sampled_softmax';
export type {
  ItemScorer, LossInputs, NegativeSample, SamplingContext, SequenceLoss, SequenceLossName,
} from './train/losses/types';
export { scoreDataset } from './eval/score';
export type { ScoreOptions } from './eval/score';
export { evaluateModel } from './eval/evaluate_model';
export type { EvaluateModelOptions, ModelReport } from './eval/evaluate_model';
export { recommend, scoreCandidates } from './eval/recommend';
export { releaseItemVectors } from './eval/item_vectors';
export type {
  Recommendation, RecommendItemMap, RecommendOptions, ScoreCandidatesOptions,
} from './eval/recommend';
export { DUET_COLUMNS } from './eval/model_inputs';
export { evaluateFullRanking } from './eval/full_ranking/evaluate_full_ranking';
export type { FullRankingOptions } from './eval/full_ranking/evaluate_full_ranking';
export { popularityRanking, trainingCounts } from './eval/full_ranking/popularity';
export { FULL_RANKING_KS, FullRankingMetrics, targetRank } from './eval/full_ranking/ranks';
export type { FullRankingReport } from './eval/full_ranking/ranks';
export { SAMPLED_NEGATIVES, sampleLooNegatives } from './eval/sampled/sampled_negatives';
export type { SampledCandidates, SampledNegativeOptions } from './eval/sampled/sampled_negatives';
export { evaluateSampledRanking, popularitySampled, sampledRank } from './eval/sampled/sampled_ranking';
export type { SampledRankingOptions } from './eval/sampled/sampled_ranking';
export type { DuetColumn } from './eval/model_inputs';

// The device–cloud split: parameter payloads and the generation service (Node).
export {
  decodePayload, encodePayload, PAYLOAD_FORMATS, PAYLOAD_VERSION, payloadByteLength,
} from './serve/payload';
export type {
  DecodedPayload, EncodePayloadOptions, PayloadFormat, PayloadLayer, PayloadLayout,
} from './serve/payload';
export { generatorFingerprint } from './serve/fingerprint';
export { DEVICE_METADATA_KEY, readDeviceMetadata } from './serve/device_metadata';
export type { DeviceMetadata } from './serve/device_metadata';
export { stampDeviceModel } from './serve/stamp_device_model';
export type { StampOptions } from './serve/stamp_device_model';
export { createServer } from './serve/server';
export type {
  CorsOptions, PreparedModel, Readiness, ReloadResult, ServerAddress, ServerHandle, ServerOptions,
} from './serve/server';
export type { PromClientModule, ServiceMetrics } from './serve/metrics';
export { listModelVersions, resolveModelSource } from './serve/versions/model_versions';
export type { ModelSource } from './serve/versions/model_versions';
export { GeneratorRunner } from './serve/generator_runner';
export { packRows } from './serve/packed_rows';
export type { PackedRows } from './serve/packed_rows';
export type { GeneratorInfo, GeneratorRunnerOptions } from './serve/generator_runner';
export { loadGenerator } from './serve/load_generator';
export { parseParametersRequest } from './serve/requests';
export type {
  GeneratorRow, ItemLookup, ParametersRequest, RequestIdOptions, RequestItemId, RequestLimits,
} from './serve/requests';
export { installReloadHandler, installShutdownHandlers } from './serve/shutdown';
export type { Closable, Reloadable, ShutdownOptions } from './serve/shutdown';
export { generatorEmbeddingTable } from './serve/embedding_table';
export { ServeError } from './serve/serve_error';
export type { ServeErrorCode, ServeErrorOptions } from './serve/serve_error';
