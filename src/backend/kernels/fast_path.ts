/**
 * Wraps one of tfjs-backend-wasm's kernel configs with a duet-tf fast path that handles the
 * common cases and hands every other call to the original kernel, so that nothing the original
 * accepts is lost (string tensors, unusual attributes).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Arguments of a wasm kernel function.
 *
 * @example
 * ```ts
 * const fast: FastPath = ({ inputs }) => (inputs.x.dtype === 'string' ? null : inputs.x);
 * ```
 */
export interface WasmKernelArgs {
  /** Input tensors by name. */
  inputs: Record<string, tf.TensorInfo>;
  /** The wasm backend. */
  backend: BackendWasm;
  /** The kernel's attributes. */
  attrs: Record<string, unknown>;
}

/**
 * A fast path: the kernel's outputs, or `null` to let the original kernel run the call.
 *
 * @example
 * ```ts
 * const never: FastPath = () => null;
 * ```
 */
export type FastPath = (args: WasmKernelArgs) => tf.TensorInfo | tf.TensorInfo[] | null;

/** Marks the configs built here, with the kernel they wrap, so that wrapping twice is detected. */
const FAST_PATH = Symbol('duet-tf wasm fast path');

type Marked = tf.KernelConfig & { [FAST_PATH]?: string };

/**
 * Wraps `original`, wasm's config for `kernelName`, so that `fast` runs first and the original
 * kernel only when `fast` returns `null`. Returns `original` itself when it is already wrapped.
 *
 * @param original The wasm backend's own kernel config (`tf.getKernel(kernelName, 'wasm')`).
 * @param kernelName The kernel `original` must be, checked.
 * @param fast The fast path.
 * @returns A config for the same kernel and backend (setup and dispose functions kept).
 *
 * @example
 * ```ts
 * const wrapped = withFastPath(tf.getKernel('Slice', 'wasm')!, 'Slice', () => null);
 * ```
 */
export function withFastPath(original: tf.KernelConfig, kernelName: string, fast: FastPath):
    tf.KernelConfig {
  if ((original as Marked)[FAST_PATH] === kernelName) return original;
  if (original.backendName !== 'wasm' || original.kernelName !== kernelName) {
    throw new Error(
      `'original' passed to the ${kernelName} fast path must be wasm's ${kernelName} kernel, ` +
        `got ${original.kernelName} for ${original.backendName}`,
    );
  }
  const run = original.kernelFunc;
  const kernelFunc = (args: WasmKernelArgs) =>
    fast(args) ?? run(args as unknown as Parameters<tf.KernelFunc>[0]);
  const config: Marked = { ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  config[FAST_PATH] = kernelName;
  return config;
}

/**
 * Whether `config` is a kernel built by {@link withFastPath}.
 *
 * @example
 * ```ts
 * hasFastPath(tf.getKernel('Slice', 'wasm')); // true after useBackend('wasm')
 * ```
 */
export function hasFastPath(config: tf.KernelConfig | undefined): boolean {
  return config != null && (config as Marked)[FAST_PATH] != null;
}
