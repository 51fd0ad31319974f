// Where things are in a model with subgraphs: each graph's path (for reports and for finding the
// graph again, since Graph views of a subgraph are made afresh on every call), the graph that
// holds an initializer, and the nodes that read a value in any graph.
import { type Graph, type Model, type NodeProto, nodeSubgraphs } from '@qgrain/onnx';

/** The path of the main graph. */
export const MAIN_GRAPH = 'main';

/** Separates the steps of a subgraph's path; node names often hold '/' themselves. */
const PATH_SEPARATOR = ' > ';

/**
 * Where a graph sits: `main`, or each holding node's name and the attribute its body comes from,
 * outermost first (`If_0.else_branch > /decoder/If_1.then_branch`).
 */
export function graphPath(graph: Graph): string {
  if (!graph.parent || !graph.owner) return MAIN_GRAPH;
  const attribute = nodeSubgraphs(graph.owner).find((s) => s.graph === graph.proto)?.attribute ?? '?';
  const step = `${graph.owner.name}.${attribute}`;
  const above = graphPath(graph.parent);
  return above === MAIN_GRAPH ? step : `${above}${PATH_SEPARATOR}${step}`;
}

/** Every graph of the model by its path. */
export function graphsByPath(model: Model): Map<string, Graph> {
  return new Map(model.graphs().map((g) => [graphPath(g), g]));
}

/** The graph whose own initializers hold `name`: `graph` itself or an enclosing one. */
export function initializerOwner(graph: Graph, name: string): Graph | undefined {
  for (let g: Graph | undefined = graph; g; g = g.parent) {
    if (g.proto.initializer.some((t) => t.name === name)) return g;
    // A graph that defines the name otherwise hides any outer initializer of that name.
    if (g.defines(name)) return undefined;
  }
  return undefined;
}

/** The node that produces `name` as seen from `graph`: in it, or in an enclosing graph. */
export function producerInScope(graph: Graph, name: string): { graph: Graph; node: NodeProto } | undefined {
  for (let g: Graph | undefined = graph; g; g = g.parent) {
    const node = g.producer(name);
    if (node) return { graph: g, node };
    if (g.defines(name)) return undefined;
  }
  return undefined;
}

/** The nodes that read `name` as a direct input, in every graph of the model. */
export function directReaders(model: Model, name: string): { graph: Graph; node: NodeProto }[] {
  return model
    .graphs()
    .flatMap((graph) => graph.nodes.filter((n) => n.input.includes(name)).map((node) => ({ graph, node })));
}

/** A node by name, in whichever graph holds it. */
export function findNode(model: Model, name: string): { graph: Graph; node: NodeProto } | undefined {
  for (const graph of model.graphs()) {
    const node = graph.nodes.find((n) => n.name === name);
    if (node) return { graph, node };
  }
  return undefined;
}

/** True when every graph from the main one down to `graph` is an If branch (no Loop/Scan body). */
export function reachableByIfOutputs(graph: Graph): boolean {
  for (let g: Graph | undefined = graph; g?.parent; g = g.parent) if (g.owner?.opType !== 'If') return false;
  return true;
}

/** True when `inner` is `outer` or lies inside it. */
export function isWithin(inner: Graph, outer: Graph): boolean {
  for (let g: Graph | undefined = inner; g; g = g.parent) if (g.proto === outer.proto) return true;
  return false;
}

/** `graph` and every graph inside it (subgraphs of its nodes, recursively). */
function graphsWithin(graph: Graph): Graph[] {
  return [graph, ...graph.nodes.flatMap((n) => graph.subgraphs(n).flatMap(graphsWithin))];
}

/**
 * The graphs where a constant held by `owner` should be dequantized: the owner itself when one of
 * its own nodes reads it (its subgraphs then read that one dequantized value), else each outermost
 * subgraph that reads it, so a branch that is not taken never dequantizes what only it needs.
 */
export function dequantizeSites(owner: Graph, name: string): Graph[] {
  const readers = graphsWithin(owner).filter((g) => g.nodes.some((n) => n.input.includes(name)));
  if (readers.length === 0 || readers.some((g) => g.proto === owner.proto)) return [owner];
  return readers.filter((g) => !readers.some((h) => h.proto !== g.proto && isWithin(g, h)));
}
