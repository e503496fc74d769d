/**
 * duet-tf's backend layer: choosing a TensorFlow.js backend and the kernels duet-tf adds to them.
 */
export { useBackend, currentBackend, BACKEND_PRIORITY } from './use_backend';
export { registerDuetKernels } from './register_kernels';
export type {
  BackendChoice,
  BackendLoader,
  BackendName,
  UseBackendOptions,
  WasmPaths,
} from './types';
