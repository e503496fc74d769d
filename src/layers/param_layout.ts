/**
 * The layout of a flat parameter vector: which slice holds which layer's kernel and bias.
 *
 * The generator emits one vector per sample and each `DynamicDense` reads its slice, so both
 * sides (and the payload a device receives) agree on this single description.
 */

/** One dense layer whose parameters are generated. */
export interface DynamicLayerSpec {
  /** Name of the layer the parameters are for (unique within a layout). */
  name: string;
  /** Size of the layer's input (the kernel has `inputDim` rows). */
  inputDim: number;
  /** Size of the layer's output (the kernel has `outputDim` columns). */
  outputDim: number;
  /** Whether a bias of `outputDim` values follows the kernel. Default true. */
  useBias?: boolean;
}

/** Where one layer's parameters sit in the flat vector. */
export interface ParamSlice {
  name: string;
  inputDim: number;
  outputDim: number;
  useBias: boolean;
  /** Offset of the kernel (row-major `[inputDim, outputDim]`). */
  offset: number;
  /** Number of values: `inputDim * outputDim` plus `outputDim` with a bias. */
  size: number;
}

/**
 * Number of parameters one layer takes: `inputDim * outputDim (+ outputDim)`.
 *
 * @example
 * ```ts
 * paramCount({ name: 'fc', inputDim: 32, outputDim: 32 }); // 1056
 * ```
 */
export function paramCount(spec: DynamicLayerSpec): number {
  return spec.inputDim * spec.outputDim + (spec.useBias === false ? 0 : spec.outputDim);
}

/**
 * Lays the layers out one after another in a flat vector, checking the specs.
 *
 * @example
 * ```ts
 * const layout = paramLayout([
 *   { name: 'fc1', inputDim: 32, outputDim: 32 },
 *   { name: 'fc2', inputDim: 32, outputDim: 8, useBias: false },
 * ]);
 * layout.total;            // 1056 + 256 = 1312
 * layout.slices[1].offset; // 1056
 * ```
 */
export function paramLayout(specs: readonly DynamicLayerSpec[], caller = 'paramLayout'):
    { slices: ParamSlice[]; total: number } {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new Error(`'layers' passed to '${caller}' must be a non-empty array of layer specs`);
  }
  const seen = new Set<string>();
  const slices: ParamSlice[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (typeof spec?.name !== 'string' || spec.name === '') {
      throw new Error(`every layer spec passed to '${caller}' needs a non-empty 'name'`);
    }
    if (seen.has(spec.name)) {
      throw new Error(`layer name '${spec.name}' appears twice in the specs passed to '${caller}'`);
    }
    seen.add(spec.name);
    for (const key of ['inputDim', 'outputDim'] as const) {
      const v = spec[key];
      if (!Number.isInteger(v) || v <= 0) {
        throw new Error(`'${key}' of layer '${spec.name}' passed to '${caller}' must be a ` +
          `positive integer, got ${String(v)}`);
      }
    }
    const size = paramCount(spec);
    slices.push({
      name: spec.name, inputDim: spec.inputDim, outputDim: spec.outputDim,
      useBias: spec.useBias !== false, offset, size,
    });
    offset += size;
  }
  return { slices, total: offset };
}
