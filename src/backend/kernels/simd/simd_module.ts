/**
 * duet-tf's SIMD kernels (kernels.c), instantiated against tfjs-backend-wasm's own memory so they
 * work on tensors in place. Browser-safe. Where the module cannot run (no wasm SIMD, a shared
 * memory of the threaded build, a browser refusing a synchronous compile), `simdKernels` returns
 * null and the callers keep tfjs's kernels.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { SIMD_KERNELS_WASM } from './kernels_wasm';

/**
 * The module's exports. Pointers are byte offsets on the wasm heap, strides and sizes in elements.
 *
 * @example
 * ```ts
 * simdKernels(backend)?.tanh_f32(xOffset, outOffset, n);
 * ```
 */
export interface SimdKernels {
  /** Batched, strided matrix product; see kernels.c. */
  bmm(a: number, b: number, out: number, scratch: number, batch: number, m: number, k: number, n: number,
    sab: number, sai: number, sak: number, sbb: number, sbk: number, sbn: number): void;
  /** `out (m×n) = xᵀ · y` for `x` (r×m), `y` (r×n). */
  gemm_tn(x: number, y: number, out: number, r: number, m: number, n: number): void;
  /** Element-wise tanh of `n` floats. */
  tanh_f32(x: number, out: number, n: number): void;
  /** A masked GRU recurrence (forward, last state); `units` a multiple of 4, `scratch` 16·units floats. */
  gru_sequence(x: number, recurrent: number, mask: number, out: number, scratch: number,
    batch: number, time: number, units: number): void;
  /**
   * `gru_sequence` of the projection `seq·kernel + bias`, computed per valid step inside it
   * (`seq` `[batch, time, dim]`); `scratch` 28·units floats.
   */
  gru_encode(seq: number, kernel: number, bias: number, recurrent: number, mask: number, out: number,
    scratch: number, batch: number, time: number, dim: number, units: number): void;
  /**
   * Copies rows `ids[i]` of `table` (rows of `row` 32-bit words) to `out`; returns −1, or the
   * position of the first id outside `[0, rows)` (then nothing is copied).
   */
  gather_rows(table: number, ids: number, out: number, count: number, rows: number, row: number): number;
  /**
   * `out (rows × cols) = x op v` (`op`: 0 add, 1 sub, 2 mul, 3 div), `v` per column (`perRow` 0)
   * or per row (1); `swap` 1 computes `v op x`.
   */
  bcast_binary(x: number, v: number, out: number, rows: number, cols: number, op: number,
    perRow: number, swap: number): void;
  /**
   * `out[i] = a[i] op b[i]` (`bStep` 1) or `a[i] op b[0]` (0) as bytes 0/1; `op` 0 equal,
   * 1 not equal, 2 greater, 3 greater-equal, 4 less, 5 less-equal; `isInt` 1 for int32 values.
   */
  compare(a: number, b: number, out: number, n: number, bStep: number, op: number, isInt: number): void;
  /** Layer norm over `rows` rows of `d` floats (`d` a multiple of 4). */
  layer_norm(x: number, gamma: number, beta: number, y: number, rows: number, d: number, epsilon: number): void;
  /** The gradient of `layer_norm` (statistics recomputed); `acc` holds `2·d` float64 values. */
  layer_norm_grad(dy: number, x: number, gamma: number, dx: number, dgamma: number, dbeta: number,
    acc: number, rows: number, d: number, epsilon: number): void;
  /** Fused multi-head attention forward (see kernels.c); mask and keep 0 when absent. */
  attention_forward(q: number, k: number, v: number, mask: number, keep: number, out: number, scratch: number,
    b: number, tq: number, tv: number, h: number, dk: number, scale: number, causal: number): void;
  /** Its gradient, probabilities recomputed. */
  attention_backward(dy: number, q: number, k: number, v: number, mask: number, keep: number, dq: number,
    dk: number, dv: number, scratch: number, b: number, tq: number, tv: number, h: number, keyDim: number,
    scale: number, causal: number): void;
  /**
   * One Adam step over `n` values into `wo`, `mo`, `vo` (not aliasing the inputs), the gradient
   * multiplied by `scale` first; the constants as `adamConstants` gives them.
   */
  adam_update(w: number, g: number, m: number, v: number, wo: number, mo: number, vo: number, n: number,
    scale: number, b1: number, omb1: number, b2: number, omb2: number, c1: number, c2: number, eps: number,
    negLr: number): void;
  /** `out[o, c] = Σ_r x[o, r, c]`, in float64 in row order (as the cpu backend). */
  sum_middle(x: number, out: number, outer: number, reduce: number, inner: number): void;
}

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

function bytes(): Uint8Array<ArrayBuffer> {
  const text = atob(SIMD_KERNELS_WASM);
  const out = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The memory of a wasm backend (emscripten keeps it as `asm.memory`). */
function memoryOf(backend: BackendWasm): WebAssembly.Memory | undefined {
  const asm = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm;
  const memory = asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): SimdKernels | null {
  try {
    return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    return null; // e.g. the threaded build's shared memory
  }
}

/**
 * Compiles the module ahead of use, off the main thread's synchronous path (browsers refuse
 * synchronous compiles of modules this size on the main thread). `useBackend('wasm')` awaits it.
 *
 * @example
 * ```ts
 * await prepareSimdKernels(tf.backend() as BackendWasm);
 * ```
 */
export async function prepareSimdKernels(backend: BackendWasm): Promise<boolean> {
  const memory = memoryOf(backend);
  if (memory === undefined) return false;
  if (compiled === undefined) {
    try {
      compiled = await WebAssembly.compile(bytes());
    } catch {
      compiled = null;
    }
  }
  if (compiled === null) return false;
  if (!instances.has(memory)) instances.set(memory, instantiate(compiled, memory));
  return instances.get(memory) != null;
}

/**
 * The kernels bound to `backend`'s memory, or null when they cannot run there. Compiles
 * synchronously on first use if {@link prepareSimdKernels} has not run (fine in Node).
 *
 * @example
 * ```ts
 * const simd = simdKernels(backend);
 * if (simd === null) return null; // let tfjs's kernel run
 * ```
 */
export function simdKernels(backend: BackendWasm): SimdKernels | null {
  const memory = memoryOf(backend);
  if (memory === undefined) return null;
  const known = instances.get(memory);
  if (known !== undefined) return known;
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(bytes());
    } catch {
      compiled = null;
    }
  }
  const instance = compiled === null ? null : instantiate(compiled, memory);
  instances.set(memory, instance);
  return instance;
}
