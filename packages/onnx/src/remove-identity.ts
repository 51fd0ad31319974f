import { QgrainError } from '@qgrain/tensor';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import { type NodeProto, isDefaultDomain } from './proto-types.js';

/** True for nodes that pass their input through unchanged at inference: Identity, and Dropout without a used mask. */
function isPassThrough(graph: Graph, node: NodeProto): boolean {
  if (!isDefaultDomain(node)) return false;
  if (node.opType === 'Identity') return node.input.length === 1 && node.output.length === 1;
  if (node.opType === 'Dropout') {
    const mask = node.output[1];
    return node.output.length >= 1 && (mask === undefined || mask === '' || !graph.isUsed(mask));
  }
  return false;
}

/**
 * Removes Identity and (inference) Dropout nodes, rewiring readers to the node's input. When the
 * output is a graph output, the producer of the input is renamed instead; when that cannot be
 * done (the input is a graph input, an initializer or from the outer scope) the node stays.
 * Returns the number of nodes removed.
 */
export function removeIdentities(model: Model): number {
  let removed = 0;
  for (const graph of model.graphs()) {
    for (const node of [...graph.nodes]) {
      if (!isPassThrough(graph, node)) continue;
      const input = node.input[0];
      const output = node.output[0]!;
      if (input === undefined) {
        // Rewiring readers to a missing input would write an undefined name into the graph.
        throw new QgrainError(
          'invalid-model',
          `node '${node.name}' (${node.opType}) has no input; the model is corrupt, re-export it`,
          { node: node.name },
        );
      }
      if (input === '' || output === '') continue;
      if (graph.isOutput(output)) {
        const producer = graph.producer(input);
        if (!producer || graph.isOutput(input)) continue;
        graph.removeNode(node);
        producer.output[producer.output.indexOf(input)] = output;
        graph.replaceUses(input, output);
      } else {
        graph.removeNode(node);
        graph.replaceUses(output, input);
      }
      removed++;
    }
  }
  return removed;
}
