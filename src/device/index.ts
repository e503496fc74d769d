/**
 * duet-tf/device: the browser-safe device side of DUET. It loads the device model, fetches
 * per-user parameters from the generation service, falls back to the static parameters when it
 * cannot, and ranks candidates. Imports no Node module and no training code.
 *
 * @packageDocumentation
 * @module duet-tf/device
 */
export { createDeviceRuntime, DeviceRuntime } from './device_runtime';
export type {
  DeviceParameters, DeviceRuntimeOptions, DeviceRuntimeStats, DeviceScoring, ItemId, ScoredItem,
} from './device_runtime';
export { columnInputs } from './default_inputs';
export type { InputsBuilder } from './default_inputs';
export { always, drift, everyN } from './policies';
export type { DriftOptions, PolicyContext, RequestPolicy } from './policies';
export { cosineDistance, embeddingMean, hashedBag } from './summaries';
export type { BehaviourSummary } from './summaries';
export { parametersUrl, requestParameters } from './fetch_parameters';
export type {
  ByteStreamLike, FallbackReason, FetchLike, FetchResponseLike, ParameterRequest, ParameterResponse,
} from './fetch_parameters';
export { deviceLayout } from './device_layout';
export type { DeviceLayout } from './device_layout';
export { decodePayload, PAYLOAD_FORMATS, PAYLOAD_VERSION } from '../serve/payload';
export type { DecodedPayload, PayloadFormat, PayloadLayer } from '../serve/payload';
export { DEVICE_METADATA_KEY, readDeviceMetadata } from '../serve/device_metadata';
export type { DeviceMetadata } from '../serve/device_metadata';
