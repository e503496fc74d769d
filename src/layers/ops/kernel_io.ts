/**
 * Reading inputs and making float32 outputs inside a kernel, the same way on tfjs-backend-cpu
 * (JavaScript arrays) and tfjs-backend-wasm (views of its heap), for duet-tf's fused kernels
 * written once in JavaScript (layer norm, attention).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * A kernel's access to its backend's data.
 *
 * @example
 * ```ts
 * const io = kernelIo('cpu', backend);
 * const { infos, values: [y] } = io.outputs([[...x.shape]]);
 * ```
 */
export interface KernelIo {
  /** The values of an input tensor. */
  read(t: tf.TensorInfo): ArrayLike<number>;
  /** New float32 outputs of the given shapes, with writable views of their values. */
  outputs(shapes: number[][]): { infos: tf.TensorInfo[]; values: Float32Array[] };
}

/**
 * The {@link KernelIo} of a cpu or wasm backend instance.
 *
 * @example
 * ```ts
 * const io = kernelIo('wasm', args.backend);
 * ```
 */
export function kernelIo(backendName: 'cpu' | 'wasm', backend: unknown): KernelIo {
  if (backendName === 'cpu') {
    const cpu = backend as MathBackendCPU;
    return {
      read: (t) => cpu.data.get(t.dataId).values as ArrayLike<number>,
      outputs: (shapes) => {
        const values = shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
        return { values, infos: shapes.map((s, i) => cpu.makeTensorInfo(s, 'float32', values[i])) };
      },
    };
  }
  const wasm = backend as BackendWasm;
  return {
    read: (t) => wasm.typedArrayFromHeap(t) as ArrayLike<number>,
    outputs: (shapes) => {
      const infos = shapes.map((s) => wasm.makeOutput(s, 'float32'));
      // Views after the last allocation: growing the heap detaches earlier ones (inputs are read
      // after this call for the same reason).
      return { infos, values: infos.map((t) => wasm.typedArrayFromHeap(t) as Float32Array) };
    },
  };
}
