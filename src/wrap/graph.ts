/**
 * Reading and replaying the layer graph of a tfjs-layers model. tfjs-layers keeps this graph in
 * fields its typings mark internal (`nodesByDepth`, a Sequential's inner `model`); this file is
 * the one place that touches them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Layer = tfl.layers.Layer;

/** One call of a layer inside a model: its input and output tensors. */
export interface GraphNode {
  layer: Layer;
  inputs: tfl.SymbolicTensor[];
  outputs: tfl.SymbolicTensor[];
  callArgs: Record<string, unknown>;
}

interface InternalNode {
  outboundLayer: Layer;
  inputTensors: tfl.SymbolicTensor[];
  outputTensors: tfl.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** The functional graph behind a model: a Sequential delegates to an inner functional model. */
export function functionalCore(model: tfl.LayersModel, caller: string): tfl.LayersModel {
  if (!(model instanceof tfl.LayersModel)) {
    throw new Error(`'model' passed to '${caller}' must be a tfjs-layers LayersModel ` +
      `(tf.sequential or tf.model), got ${model === null ? 'null' : typeof model}`);
  }
  if (model instanceof tfl.Sequential) {
    const seq = model as unknown as { model?: tfl.LayersModel; build(): void };
    if (seq.model === undefined) {
      try {
        seq.build();
      } catch (e) {
        throw new Error(`'model' passed to '${caller}' is a Sequential model without a known ` +
          `input shape (give its first layer an inputShape): ${(e as Error).message}`);
      }
    }
    return seq.model as tfl.LayersModel;
  }
  return model;
}

/** Every layer call of the model, inputs first (a topological order). */
export function modelNodes(model: tfl.LayersModel, caller: string): GraphNode[] {
  const core = functionalCore(model, caller) as unknown as
    { nodesByDepth: Record<string, InternalNode[]> };
  const depths = Object.keys(core.nodesByDepth).map(Number).sort((a, b) => b - a);
  const nodes: GraphNode[] = [];
  for (const depth of depths) {
    for (const n of core.nodesByDepth[String(depth)]) {
      if (n.outboundLayer instanceof tfl.layers.Layer && isInputLayer(n.outboundLayer)) continue;
      nodes.push({
        layer: n.outboundLayer,
        inputs: n.inputTensors,
        outputs: n.outputTensors,
        callArgs: n.callArgs ?? {},
      });
    }
  }
  return nodes;
}

/** The model's symbolic inputs and outputs (a Sequential's come from its inner model). */
export function modelEnds(model: tfl.LayersModel, caller: string):
    { inputs: tfl.SymbolicTensor[]; outputs: tfl.SymbolicTensor[] } {
  const core = functionalCore(model, caller);
  return { inputs: core.inputs, outputs: core.outputs };
}

export function isInputLayer(layer: Layer): boolean {
  return layer.getClassName() === 'InputLayer';
}

/**
 * The nodes needed to compute `outputs`, walking back until a tensor in `stops` (or a model
 * input); returns them in topological order with the stop tensors that were reached.
 */
export function subgraph(nodes: GraphNode[], outputs: tfl.SymbolicTensor[],
    stops: Set<number>): { nodes: GraphNode[]; reached: Set<number> } {
  const producer = new Map<number, GraphNode>();
  for (const node of nodes) for (const t of node.outputs) producer.set(t.id, node);
  const needed = new Set<GraphNode>();
  const reached = new Set<number>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const t = stack.pop() as tfl.SymbolicTensor;
    if (stops.has(t.id)) {
      reached.add(t.id);
      continue;
    }
    const node = producer.get(t.id);
    if (node === undefined) {
      reached.add(t.id);
      continue;
    }
    if (needed.has(node)) continue;
    needed.add(node);
    stack.push(...node.inputs);
  }
  return { nodes: nodes.filter((n) => needed.has(n)), reached };
}

/**
 * Calls each node again on new tensors: `known` maps old tensor ids to new tensors and grows as
 * nodes are replayed; `call` returns the new outputs of one node.
 */
export function replay(nodes: GraphNode[], known: Map<number, tfl.SymbolicTensor>,
    call: (node: GraphNode, inputs: tfl.SymbolicTensor[]) => tfl.SymbolicTensor[]): void {
  for (const node of nodes) {
    if (node.outputs.every((t) => known.has(t.id))) continue;
    const inputs = node.inputs.map((t) => known.get(t.id));
    if (inputs.some((t) => t === undefined)) {
      throw new Error(`internal: layer '${node.layer.name}' is replayed before its inputs`);
    }
    const outputs = call(node, inputs as tfl.SymbolicTensor[]);
    if (outputs.length !== node.outputs.length) {
      throw new Error(`internal: layer '${node.layer.name}' gave ${outputs.length} outputs ` +
        `where ${node.outputs.length} were expected`);
    }
    node.outputs.forEach((t, i) => known.set(t.id, outputs[i]));
  }
}

/** Applies a layer to symbolic inputs the way the original node did (one or many inputs). */
export function applyLike(layer: Layer, node: GraphNode, inputs: tfl.SymbolicTensor[]):
    tfl.SymbolicTensor[] {
  const out = layer.apply(node.inputs.length === 1 ? inputs[0] : inputs, node.callArgs);
  return Array.isArray(out) ? out as tfl.SymbolicTensor[] : [out as tfl.SymbolicTensor];
}

/** A fresh copy of a layer from its config (new weights; copy them after building). */
export function cloneLayer(layer: Layer): Layer {
  const className = layer.getClassName();
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) {
    throw new Error(`layer '${layer.name}' has class '${className}', which is not registered ` +
      `with tf.serialization.registerClass, so it cannot be copied`);
  }
  const [cls, fromConfig] = entry;
  return fromConfig(cls, layer.getConfig()) as Layer;
}

/** A new symbolic input like an existing one (same shape, dtype and name). */
export function cloneInput(t: tfl.SymbolicTensor): tfl.SymbolicTensor {
  return tfl.input({
    shape: t.shape.slice(1) as number[],
    dtype: t.dtype,
    name: t.sourceLayer.name,
  });
}
