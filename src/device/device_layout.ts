/**
 * The parameter layout a device model expects, read from its DynamicDense layers.
 */
import * as tfl from '@tensorflow/tfjs-layers';

import { DynamicDense } from '../layers/dynamic_dense';
import { isLayerClass } from '../layers/layer_class';
import { PayloadLayer } from '../serve/payload';

/** A device model's dynamic layers in parameter order, and whether each is residual. */
export interface DeviceLayout {
  layers: PayloadLayer[];
  total: number;
  /** Whether every dynamic layer is residual (an all-zero vector then means "static model"). */
  residual: boolean;
}

/**
 * Reads the layout from the model's {@link DynamicDense} layers (ordered by `paramOffset`) and
 * checks it against the width of the model's last input, the parameter vector.
 *
 * @example
 * ```ts
 * const { layers, total } = deviceLayout(splitDuet(duetModel).device);
 * ```
 */
export function deviceLayout(model: tfl.LayersModel): DeviceLayout {
  const dynamic = model.layers.filter((l) => isLayerClass(l, DynamicDense)) as DynamicDense[];
  if (dynamic.length === 0) {
    throw new Error(`'deviceLayout': model '${model.name}' has no DynamicDense layer; pass the ` +
      `device part from splitDuet`);
  }
  const entries = dynamic.map((l) => {
    const x = (l.inboundNodes.length > 0 ? l.inboundNodes[0].inputTensors[0] : null) as
      tfl.SymbolicTensor | null;
    const inputDim = x?.shape[x.shape.length - 1];
    if (typeof inputDim !== 'number') {
      throw new Error(`'deviceLayout': cannot tell the input size of DynamicDense '${l.name}'`);
    }
    return {
      offset: l.paramOffset ?? 0,
      residual: l.residual,
      layer: { name: l.name, inputDim, outputDim: l.units, useBias: l.useBias },
    };
  }).sort((a, b) => a.offset - b.offset);
  let total = 0;
  for (const e of entries) {
    if (e.offset !== total) {
      throw new Error(`'deviceLayout': DynamicDense '${e.layer.name}' reads from offset ` +
        `${e.offset}, expected ${total}: the dynamic layers do not tile the parameter vector`);
    }
    total += e.layer.inputDim * e.layer.outputDim + (e.layer.useBias ? e.layer.outputDim : 0);
  }
  const params = model.inputs[model.inputs.length - 1];
  if (params.shape.length !== 2 || params.shape[1] !== total) {
    throw new Error(`'deviceLayout': the model's last input must be the parameter vector ` +
      `[batch, ${total}], got [${params.shape.map((d) => d ?? 'batch').join(', ')}]`);
  }
  return {
    layers: entries.map((e) => e.layer), total, residual: entries.every((e) => e.residual),
  };
}

/**
 * Whether two layouts describe the same layers in the same order.
 *
 * @example
 * ```ts
 * sameLayout(decodePayload(bytes).layers, deviceLayout(model).layers); // true when they fit
 * ```
 */
export function sameLayout(a: readonly PayloadLayer[], b: readonly PayloadLayer[]): boolean {
  return a.length === b.length && a.every((l, i) => l.name === b[i].name &&
    l.inputDim === b[i].inputDim && l.outputDim === b[i].outputDim && l.useBias === b[i].useBias);
}
