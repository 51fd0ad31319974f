import type { Model } from './model.js';

/**
 * Removes what exporters write on nodes for their own debugging: `doc_string` and
 * `metadata_props` (PyTorch's dynamo exporter stores each node's Python stack trace, FX node
 * and module path there). Neither changes what the model computes, and on silero_vad_op18_ifless
 * they are 645 KB of a 2.8 MB file, more than its int8 weights. Returns the number of nodes
 * that had any.
 */
export function stripExporterNotes(model: Model): number {
  let stripped = 0;
  for (const graph of model.graphs()) {
    for (const node of graph.nodes) {
      const hasDoc = typeof node.docString === 'string' && node.docString !== '';
      const hasProps = (node.metadataProps?.length ?? 0) > 0;
      if (!hasDoc && !hasProps) continue;
      if (hasDoc) node.docString = '';
      if (hasProps) node.metadataProps = [];
      stripped++;
    }
  }
  return stripped;
}
