// The tail of a model: the nodes from one point of its topological order on, with every value they
// read from the nodes before that point made a graph input (the cut). A change made inside the
// tail (a tensor swapped for its quantized version) reaches the outputs through the tail alone, so
// the advisor measures it by running the tail on the values the float model made before the cut,
// rather than running the whole model each time.
import { type Graph, type Model, makeUnshapedValueInfo, parseModel, serializeModel } from '@qgrain/onnx';
import type { DType } from '@qgrain/tensor';

/** A model's tail: see the file comment. */
export interface ModelTail {
  readonly model: Model;
  /** The values made before the cut that the tail reads, graph inputs of the tail. */
  readonly cut: readonly string[];
  /** The model's own inputs the tail reads. */
  readonly inputs: readonly string[];
  /** The model's outputs the tail makes (the others come out of the nodes before the cut). */
  readonly outputs: readonly string[];
}

/**
 * A main graph split at node `from` of its topological order: the nodes from there on, the values
 * the nodes before make, what the nodes from there on read (subgraphs' outer-scope references
 * included) and, of that, what the nodes before make (the cut).
 */
function split(graph: Graph, from: number) {
  const order = graph.topologicalOrder();
  const tail = order.slice(from);
  const made = new Set(order.slice(0, from).flatMap((n) => n.output));
  const read = new Set<string>();
  for (const node of tail) {
    for (const name of node.input) read.add(name);
    for (const sub of graph.subgraphs(node)) for (const name of sub.outerScopeReferences()) read.add(name);
  }
  const cut = [...read].filter((name) => name !== '' && made.has(name));
  return { tail, made, read, cut };
}

/** The values that main-graph nodes `from` on (topological order) read from the nodes before. */
export function cutValues(model: Model, from: number): string[] {
  return split(model.graph, from).cut;
}

/**
 * The tail of `model` from main-graph node `from` of its topological order on; `types` gives the
 * element type of each cut value (a float run of the model tells). The model is not changed.
 */
export function modelTail(model: Model, from: number, types: (name: string) => DType): ModelTail {
  const copy = parseModel(serializeModel(model), { source: model.source });
  const graph = copy.graph;
  const { tail, made, read, cut } = split(graph, from);
  graph.proto.node.splice(0, graph.proto.node.length, ...tail);
  graph.proto.input = graph.proto.input.filter((i) => read.has(i.name));
  const inputs = graph.inputNames();
  for (const name of cut) graph.proto.input.push(makeUnshapedValueInfo(name, types(name)));
  graph.proto.output = graph.proto.output.filter((o) => !made.has(o.name));
  graph.removeUnusedInitializers(graph.initializers().map((i) => i.name));
  return { model: copy, cut, inputs, outputs: graph.outputNames() };
}
