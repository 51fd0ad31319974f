import { Tensor, shapeSize } from '@qgrain/tensor';
import { readFloat, readInt, setAttribute } from './attributes.js';
import type { Graph } from './graph.js';
import type { Initializer } from './initializer.js';
import type { Model } from './model.js';
import { type NodeProto, isDefaultDomain } from './proto-types.js';

/** BatchNormalization's epsilon when the attribute is absent (ONNX spec). */
const BN_DEFAULT_EPSILON = 1e-5;

/** A per-channel affine map y = x * scale + shift (an inference BatchNormalization, a constant Mul/Add). */
export interface ChannelAffine {
  readonly scale: Float64Array;
  readonly shift: Float64Array;
}

export function float32Initializer(graph: Graph, name: string | undefined): Initializer | undefined {
  if (!name) return undefined;
  const init = graph.initializer(name);
  return init && init.dtype === 'float32' ? init : undefined;
}

/** The BN as y = x * scale + shift per channel, when all four parameters are float32 constants of one length. */
function batchNormAffine(graph: Graph, bn: NodeProto): ChannelAffine | undefined {
  if (readInt(bn, 'training_mode', 0) !== 0) return undefined;
  if (bn.output.slice(1).some((o) => o !== '')) return undefined;
  const params = bn.input.slice(1, 5).map((name) => float32Initializer(graph, name));
  if (params.length !== 4 || params.some((p) => !p)) return undefined;
  const [gamma, beta, mean, variance] = params.map((p) => p!.toTensor().data as Float32Array) as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const channels = gamma.length;
  if (beta.length !== channels || mean.length !== channels || variance.length !== channels) return undefined;
  const epsilon = readFloat(bn, 'epsilon', BN_DEFAULT_EPSILON);
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    // float32 epsilon as the runtime sees it, then float64 arithmetic to round only once at the end.
    scale[c] = gamma[c]! / Math.sqrt(variance[c]! + Math.fround(epsilon));
    shift[c] = beta[c]! - mean[c]! * scale[c]!;
  }
  return { scale, shift };
}

/** New float32 weights: `w` scaled by the BN scale of channel `channelOf(i)` for element i. */
function scaledWeights(
  w: Float32Array,
  affine: ChannelAffine,
  channelOf: (i: number) => number,
): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = w[i]! * affine.scale[channelOf(i)]!;
  return out;
}

/** New bias: bias * scale + shift per channel (bias 0 when the layer had none). */
function foldedBias(bias: Float32Array | undefined, affine: ChannelAffine): Float32Array {
  const out = new Float32Array(affine.scale.length);
  for (let c = 0; c < out.length; c++) out[c] = (bias ? bias[c]! : 0) * affine.scale[c]! + affine.shift[c]!;
  return out;
}

/** What folding appends to the names of the initializers it rewrites. */
export type FoldSuffix = '_bn_folded' | '_folded';

/**
 * Replaces input `index` of `node` with a new initializer, dropping the old one when nothing else
 * reads it. The new name is the old one with `suffix` (an earlier fold's suffix replaced, not
 * stacked).
 */
function replaceInput(
  graph: Graph,
  node: NodeProto,
  index: number,
  base: string,
  tensor: Tensor,
  suffix: FoldSuffix,
): void {
  const name = graph.model.uniqueName(`${base.replace(/_(?:bn_)?folded$/, '')}${suffix}`);
  graph.addInitializer(name, tensor);
  const old = node.input[index];
  if (index < node.input.length) node.input[index] = name;
  else {
    while (node.input.length < index) node.input.push('');
    node.input.push(name);
  }
  if (old && !graph.isUsed(old)) graph.removeInitializer(old);
}

/** The output channels of a Conv or ConvTranspose, from its float32 weight; undefined otherwise. */
export function convOutputChannels(graph: Graph, conv: NodeProto): number | undefined {
  const dims = float32Initializer(graph, conv.input[1])?.dims;
  if (!dims || dims.length < 3) return undefined;
  return conv.opType === 'Conv' ? dims[0] : dims[1]! * readInt(conv, 'group', 1);
}

/** The output columns of a Gemm, from its float32 2-D B; undefined otherwise. */
export function gemmOutputColumns(graph: Graph, gemm: NodeProto): number | undefined {
  const dims = float32Initializer(graph, gemm.input[1])?.dims;
  if (dims?.length !== 2) return undefined;
  return readInt(gemm, 'transB', 0) === 1 ? dims[0] : dims[1];
}

/** Folds `affine` (per output channel) into a Conv or ConvTranspose's weight and bias. */
export function foldIntoConv(
  graph: Graph,
  conv: NodeProto,
  affine: ChannelAffine,
  suffix: FoldSuffix = '_bn_folded',
): boolean {
  const weight = float32Initializer(graph, conv.input[1]);
  if (!weight) return false;
  const dims = weight.dims;
  const channels = affine.scale.length;
  const bias = conv.input[2] ? float32Initializer(graph, conv.input[2]) : undefined;
  if (conv.input[2] && !bias) return false;
  const w = weight.toTensor().data as Float32Array;
  let channelOf: (i: number) => number;
  if (conv.opType === 'Conv') {
    // [Cout, Cin/group, k...]: the output channel is the first index.
    if (dims[0] !== channels) return false;
    const perChannel = shapeSize(dims.slice(1));
    channelOf = (i) => Math.floor(i / perChannel);
  } else {
    // ConvTranspose: [Cin, Cout/group, k...]; input channel i belongs to group floor(i / (Cin/group)),
    // and its j-th filter writes output channel group * (Cout/group) + j.
    const group = readInt(conv, 'group', 1);
    const cin = dims[0]!;
    const coutPerGroup = dims[1]!;
    if (coutPerGroup * group !== channels || cin % group !== 0) return false;
    const cinPerGroup = cin / group;
    const kernel = shapeSize(dims.slice(2));
    channelOf = (i) => {
      const inChannel = Math.floor(i / (coutPerGroup * kernel));
      const j = Math.floor(i / kernel) % coutPerGroup;
      return Math.floor(inChannel / cinPerGroup) * coutPerGroup + j;
    };
  }
  const b = bias?.toTensor().data as Float32Array | undefined;
  if (b && b.length !== channels) return false;
  const weightName = weight.name;
  const biasName = bias?.name ?? `${conv.name || conv.opType}_bias`;
  replaceInput(
    graph,
    conv,
    1,
    weightName,
    new Tensor('float32', dims, scaledWeights(w, affine, channelOf)),
    suffix,
  );
  replaceInput(graph, conv, 2, biasName, new Tensor('float32', [channels], foldedBias(b, affine)), suffix);
  return true;
}

function biasVector(init: Initializer, channels: number): Float32Array | undefined {
  const dims = init.dims;
  const size = shapeSize(dims);
  // Accept [], [1], [N], [1, N] ...: anything that broadcasts along the last axis only.
  if (dims.slice(0, -1).some((d) => d !== 1)) return undefined;
  const data = init.toTensor().data as Float32Array;
  if (size === channels) return data;
  if (size === 1) return new Float32Array(channels).fill(data[0]!);
  return undefined;
}

/** Folds `affine` (per output column) into a Gemm's B and C. */
export function foldIntoGemm(
  graph: Graph,
  gemm: NodeProto,
  affine: ChannelAffine,
  suffix: FoldSuffix = '_bn_folded',
): boolean {
  const weight = float32Initializer(graph, gemm.input[1]);
  // transA does not matter: the BN scales output columns, which come from B alone.
  if (weight?.dims.length !== 2) return false;
  const channels = affine.scale.length;
  const transB = readInt(gemm, 'transB', 0) === 1;
  const [rows, cols] = weight.dims as [number, number];
  if ((transB ? rows : cols) !== channels) return false;
  const beta = readFloat(gemm, 'beta', 1);
  let bias: Float32Array | undefined;
  if (gemm.input[2]) {
    const c = float32Initializer(graph, gemm.input[2]);
    bias = c && biasVector(c, channels);
    if (!bias) return false;
    bias = bias.map((v) => Math.fround(beta * v));
  }
  const w = weight.toTensor().data as Float32Array;
  const channelOf = transB ? (i: number) => Math.floor(i / cols) : (i: number) => i % cols;
  // alpha scales A*B, so scaling B's columns by the BN scale stays exact whatever alpha is.
  replaceInput(
    graph,
    gemm,
    1,
    weight.name,
    new Tensor('float32', [rows, cols], scaledWeights(w, affine, channelOf)),
    suffix,
  );
  replaceInput(
    graph,
    gemm,
    2,
    gemm.input[2] || `${gemm.name || 'Gemm'}_bias`,
    new Tensor('float32', [channels], foldedBias(bias, affine)),
    suffix,
  );
  setAttribute(gemm, 'beta', { float: 1 });
  return true;
}

/** The rank a graph declares for a value (graph input/output or value_info), if it does. */
function declaredRank(graph: Graph, name: string): number | undefined {
  const info = [...graph.proto.input, ...graph.proto.valueInfo, ...graph.proto.output].find(
    (v) => v.name === name,
  );
  return info?.type?.tensorType?.shape?.dim.length;
}

function foldIntoMatMulAdd(graph: Graph, add: NodeProto, affine: ChannelAffine): boolean {
  const channels = affine.scale.length;
  const matmulSide = add.input.findIndex((name) => graph.producer(name)?.opType === 'MatMul');
  if (matmulSide < 0) return false;
  const product = add.input[matmulSide]!;
  const matmul = graph.producer(product)!;
  if (!isDefaultDomain(matmul) || !graph.soleConsumer(product)) return false;
  const biasInit = float32Initializer(graph, add.input[1 - matmulSide]);
  const weight = float32Initializer(graph, matmul.input[1]);
  if (!biasInit || !weight || weight.dims.length !== 2 || weight.dims[1] !== channels) return false;
  // BN normalises axis 1; the MatMul's columns are its last axis, so they coincide only for 2-D outputs.
  const rank = declaredRank(graph, matmul.input[0]!) ?? declaredRank(graph, product);
  if (rank !== 2) return false;
  const bias = biasVector(biasInit, channels);
  if (!bias) return false;
  const cols = channels;
  const w = weight.toTensor().data as Float32Array;
  replaceInput(
    graph,
    matmul,
    1,
    weight.name,
    new Tensor(
      'float32',
      weight.dims,
      scaledWeights(w, affine, (i) => i % cols),
    ),
    '_bn_folded',
  );
  replaceInput(
    graph,
    add,
    1 - matmulSide,
    biasInit.name,
    new Tensor('float32', [channels], foldedBias(bias, affine)),
    '_bn_folded',
  );
  return true;
}

/**
 * Folds inference BatchNormalization into the Conv, ConvTranspose, Gemm or MatMul+Add before it,
 * where the result is the same function: the BN parameters and the layer's weights are float32
 * initializers, and nothing but the BN reads the layer's output. The layer then writes the BN's
 * output name, and the BN is removed. Returns the number of BNs folded.
 */
export function foldBatchNorms(model: Model): number {
  let folded = 0;
  for (const graph of model.graphs()) {
    for (const bn of [...graph.nodes]) {
      if (bn.opType !== 'BatchNormalization' || !isDefaultDomain(bn)) continue;
      const x = bn.input[0];
      if (!x) continue;
      const producer = graph.producer(x);
      if (!producer || !isDefaultDomain(producer) || producer.output.length !== 1) continue;
      if (!graph.soleConsumer(x)) continue;
      const affine = batchNormAffine(graph, bn);
      if (!affine) continue;
      let done = false;
      if (producer.opType === 'Conv' || producer.opType === 'ConvTranspose')
        done = foldIntoConv(graph, producer, affine);
      else if (producer.opType === 'Gemm') done = foldIntoGemm(graph, producer, affine);
      else if (producer.opType === 'Add') done = foldIntoMatMulAdd(graph, producer, affine);
      if (!done) continue;
      producer.output[0] = bn.output[0]!;
      graph.removeNode(bn);
      graph.removeUnusedInitializers(bn.input.slice(1));
      folded++;
    }
  }
  return folded;
}
