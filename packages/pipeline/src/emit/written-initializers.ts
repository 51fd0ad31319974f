import type { Graph, Initializer, Model } from '@qgrain/onnx';

/**
 * Called right after a weight is written into the graph, with the initializers that weight added
 * (its integers, scales and zero points). A caller quantizing a model larger than memory moves
 * their bytes out here (`ExternalDataSpill`), so that no more than one weight's output is held.
 */
export type WeightWrittenHook = (added: readonly Initializer[]) => void;

/**
 * A function that returns the initializers of `graph` added since it was made or last called, in
 * graph order: what one weight's emission left behind.
 */
export function newInitializers(graph: Graph): () => Initializer[] {
  const seen = new Set(graph.proto.initializer);
  return () => {
    const fresh = graph.proto.initializer.filter((t) => !seen.has(t));
    for (const t of fresh) seen.add(t);
    return fresh.map((t) => graph.initializer(t.name)!);
  };
}

/**
 * `newInitializers` over every graph of `model`: a weight inside an If/Loop/Scan body adds its
 * integers and scales to that body's graph, and the caller must see those too.
 */
export function newModelInitializers(model: Model): () => Initializer[] {
  const seen = new Set(model.graphs().flatMap((g) => g.proto.initializer));
  return () =>
    model.graphs().flatMap((g) => {
      const fresh = g.proto.initializer.filter((t) => !seen.has(t));
      for (const t of fresh) seen.add(t);
      return fresh.map((t) => g.initializer(t.name)!);
    });
}
