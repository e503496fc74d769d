/**
 * The cloud side of DUET: parameter payloads, the generation service and its command.
 *
 * `payload.ts`, `device_metadata.ts`, `fingerprint.ts` and `requests.ts` are browser-safe; the
 * server and the command load Node modules only when called.
 *
 * @packageDocumentation
 */
export {
  decodePayload, encodePayload, PAYLOAD_FORMATS, PAYLOAD_VERSION, payloadByteLength,
} from './payload';
export type {
  DecodedPayload, EncodePayloadOptions, PayloadFormat, PayloadLayer, PayloadLayout,
} from './payload';
export { generatorFingerprint } from './fingerprint';
export { parseParametersRequest } from './requests';
export type { GeneratorRow, ParametersRequest, RequestLimits } from './requests';
export { GeneratorRunner } from './generator_runner';
export { packRows } from './packed_rows';
export type { PackedRows } from './packed_rows';
export type { GeneratorInfo, GeneratorRunnerOptions } from './generator_runner';
export { generatorEmbeddingTable } from './embedding_table';
export { loadGenerator } from './load_generator';
export { DEVICE_METADATA_KEY, readDeviceMetadata } from './device_metadata';
export type { DeviceMetadata } from './device_metadata';
export { stampDeviceModel } from './stamp_device_model';
export { MicroBatcher } from './micro_batcher';
export type { BatchResult, MicroBatcherOptions } from './micro_batcher';
export { ServeError } from './serve_error';
export type { ServeErrorCode, ServeErrorOptions } from './serve_error';
export { createServer } from './server';
export type {
  CorsOptions, PreparedModel, Readiness, ReloadResult, ServerAddress, ServerHandle, ServerOptions,
} from './server';
export { listModelVersions, resolveModelSource, sourceIdentity } from './versions/model_versions';
export type { ModelSource } from './versions/model_versions';
export { QueueAdmission } from './admission';
export type { QueueAdmissionOptions } from './admission';
export { RetryHold } from './retry_hold';
export type { RetryHoldOptions } from './retry_hold';
export { installReloadHandler, installShutdownHandlers } from './shutdown';
export type { Closable, Reloadable, ShutdownOptions } from './shutdown';
export { watchParent } from './parent_watch';
export { parseServeArgs, runServe, SERVE_USAGE, serveCommand } from './serve_command';
export type { RunServeOptions, ServeCommandOptions, ServeProcess } from './serve_command';
