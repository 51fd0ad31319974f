import {
  type ChannelAffine,
  convOutputChannels,
  float32Initializer,
  foldIntoConv,
  foldIntoGemm,
  gemmOutputColumns,
} from './fold-batch-norm.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import { type NodeProto, isDefaultDomain } from './proto-types.js';

/**
 * The values of a float32 constant as one number per channel of an output of rank `rank` whose
 * channels are axis 1, or undefined when the constant varies along another axis or would widen
 * the output by broadcasting. A scalar gives every channel the same value.
 */
function perChannel(graph: Graph, name: string, rank: number, channels: number): Float64Array | undefined {
  // An initializer that is also a graph input can be fed a different value at run time.
  const init = graph.isInput(name) ? undefined : float32Initializer(graph, name);
  if (!init) return undefined;
  const dims = init.dims;
  if (dims.length > rank) return undefined;
  let varying = false;
  for (let i = 0; i < dims.length; i++) {
    const axis = rank - dims.length + i;
    if (dims[i] === 1) continue;
    if (axis !== 1 || dims[i] !== channels) return undefined;
    varying = true;
  }
  const data = init.toTensor().data as Float32Array;
  return Float64Array.from({ length: channels }, (_, c) => (varying ? data[c]! : data[0]!));
}

/**
 * Composes the chain of constant Mul, Add and Sub (layer output minus constant) nodes that
 * follow `output`, each the only reader of the one before and none a graph output, into one
 * per-channel affine map. Stops at the first node that does not fit.
 */
function affineChain(
  graph: Graph,
  output: string,
  rank: number,
  channels: number,
): { affine: ChannelAffine; nodes: NodeProto[]; output: string } {
  const scale = new Float64Array(channels).fill(1);
  const shift = new Float64Array(channels);
  const nodes: NodeProto[] = [];
  let current = output;
  for (;;) {
    const node = graph.soleConsumer(current);
    if (!node || !isDefaultDomain(node) || node.input.length !== 2 || node.output.length !== 1) break;
    const side = node.input.indexOf(current);
    if (side < 0 || node.input[1 - side] === current) break;
    if (node.opType !== 'Mul' && node.opType !== 'Add' && !(node.opType === 'Sub' && side === 0)) break;
    const constant = perChannel(graph, node.input[1 - side]!, rank, channels);
    if (!constant) break;
    for (let c = 0; c < channels; c++) {
      if (node.opType === 'Mul') {
        scale[c]! *= constant[c]!;
        shift[c]! *= constant[c]!;
      } else shift[c]! += node.opType === 'Add' ? constant[c]! : -constant[c]!;
    }
    nodes.push(node);
    current = node.output[0]!;
  }
  return { affine: { scale, shift }, nodes, output: current };
}

/**
 * Folds constant per-channel Mul/Add/Sub nodes that follow a Conv, ConvTranspose or Gemm into
 * its weight and bias, where the result is the same function: the layer's weights and the
 * constants are float32 initializers, each constant varies along the channel axis only, and
 * nothing else reads the intermediate outputs. The layer then writes the last node's output
 * name and the folded nodes are removed. Exporters leave such scale-and-shift layers behind
 * (PP-LCNet's learnable affine blocks, a standalone Scale after a Conv); folded, they no longer
 * sit between a layer and its quantized output. Returns the number of Mul/Add/Sub nodes folded.
 */
export function foldChannelAffines(model: Model): number {
  let folded = 0;
  for (const graph of model.graphs()) {
    for (const layer of [...graph.nodes]) {
      if (!isDefaultDomain(layer) || layer.output.length !== 1) continue;
      const isConv = layer.opType === 'Conv' || layer.opType === 'ConvTranspose';
      if (!isConv && layer.opType !== 'Gemm') continue;
      const channels = isConv ? convOutputChannels(graph, layer) : gemmOutputColumns(graph, layer);
      if (channels === undefined) continue;
      const rank = isConv ? float32Initializer(graph, layer.input[1])!.dims.length : 2;
      const chain = affineChain(graph, layer.output[0]!, rank, channels);
      if (chain.nodes.length === 0) continue;
      const done = isConv
        ? foldIntoConv(graph, layer, chain.affine, '_folded')
        : foldIntoGemm(graph, layer, chain.affine, '_folded');
      if (!done) continue;
      layer.output[0] = chain.output;
      for (const node of chain.nodes) graph.removeNode(node);
      graph.removeUnusedInitializers(chain.nodes.flatMap((n) => n.input));
      folded += chain.nodes.length;
    }
  }
  return folded;
}
