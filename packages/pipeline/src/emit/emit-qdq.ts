import { type QParams, quantize } from '@qgrain/granularity';
import type { Graph, NodeProto } from '@qgrain/onnx';
import { type Backend, type DType, QgrainError, Tensor, jsBackend, roundHalfToEven } from '@qgrain/tensor';

/** Storage dtypes an activation can be quantized to in QDQ form. */
export type ActivationStorage = 'uint8' | 'int8' | 'uint16' | 'int16';

function scalarZeroPoint(storage: DType, value: number): Tensor {
  const t = Tensor.zeros(storage, []);
  (t.data as Int32Array)[0] = value;
  return t;
}

/**
 * The zero points of a constant's QParams as an initializer, or undefined when every one is 0.
 * DequantizeLinear reads an absent zero point as 0 of its integers' type, which is the same
 * value, so symmetric weights and int32 biases need not carry a tensor of zeros (on a depthwise
 * network of ~9 weights a channel, those zeros and their names are a tenth of the file).
 * onnxruntime 1.30 fuses Conv and MatMul weights read that way into its integer kernels, but not
 * a Gemm weight: `explicit` keeps the zeros for those.
 */
export function zeroPointTensor(qp: QParams, explicit = false): Tensor | undefined {
  if (!explicit && qp.zeroPoint.every((z) => z === 0)) return undefined;
  const dtype = qp.range.storage as DType;
  const t = Tensor.zeros(dtype, qp.scaleShape);
  if (dtype === 'int4' || dtype === 'uint4') {
    const data = t.data as Uint8Array;
    qp.zeroPoint.forEach((z, i) => {
      data[i >> 1]! |= (z & 0x0f) << ((i & 1) * 4);
    });
  } else {
    (t.data as Int32Array).set(qp.zeroPoint);
  }
  return t;
}

/** The attributes QuantizeLinear/DequantizeLinear need for a granularity (none for per-tensor). */
export function qdqAttributes(qp: QParams): Record<string, number> {
  const g = qp.granularity;
  if (g.kind === 'per-axis') return { axis: g.axis };
  if (g.kind === 'per-block') return { axis: g.axis, block_size: g.size };
  return {};
}

/**
 * Names of what quantizing `base` adds: the integers, scale, zero point, dequantized value and
 * the Q/DQ nodes. Short suffixes keep the graph small (on a 0.6 MB model, names are a tenth of
 * the file) while staying readable next to the tensor they belong to.
 */
export function qdqNames(model: Graph['model'], base: string) {
  return {
    quantized: model.uniqueName(`${base}_q`),
    scale: model.uniqueName(`${base}_s`),
    zeroPoint: model.uniqueName(`${base}_zp`),
    dequantized: model.uniqueName(`${base}_dq`),
    quantizeNode: model.uniqueName(`${base}_Q`),
    dequantizeNode: model.uniqueName(`${base}_DQ`),
  };
}

/** Index just after the node producing `name` (0 for graph inputs and initializers). */
function insertionPoint(graph: Graph, name: string): number {
  const producer = graph.producer(name);
  return producer ? graph.nodes.indexOf(producer) + 1 : 0;
}

/**
 * Replaces a float weight initializer by its quantized integers, its scales and zero points, and
 * a DequantizeLinear that every former reader now reads: a tied weight is quantized once. The
 * float initializer is removed. Zero points that are all 0 are left out unless
 * `explicitZeroPoint` (see zeroPointTensor). Returns the name of the dequantized value.
 */
export function emitWeightDequantize(
  graph: Graph,
  name: string,
  values: Float32Array,
  qp: QParams,
  backend: Backend = jsBackend,
  explicitZeroPoint = false,
): string {
  const storage = qp.range.storage as DType;
  const quantized = new Tensor(storage, qp.shape, quantize(values, qp, backend) as Tensor['data']);
  return replaceWithDequantize(
    graph,
    name,
    quantized,
    new Tensor('float32', qp.scaleShape, Float32Array.from(qp.scale)),
    zeroPointTensor(qp, explicitZeroPoint),
    qdqAttributes(qp),
  );
}

/**
 * emitWeightDequantize for a weight quantized in another shape than its own (blocks of a conv
 * weight run along its flattened [O, I * kh * kw] view, and DequantizeLinear-21 wants scales of
 * the rank of the integers): the integers and scales keep the quantized view, and a Reshape back
 * to `dims` follows the DequantizeLinear. Returns the name of the reshaped value.
 */
export function emitReshapedWeightDequantize(
  graph: Graph,
  name: string,
  values: Float32Array,
  qp: QParams,
  dims: readonly number[],
  backend: Backend = jsBackend,
  explicitZeroPoint = false,
): string {
  const model = graph.model;
  const dequantized = emitWeightDequantize(graph, name, values, qp, backend, explicitZeroPoint);
  const shape = model.uniqueName(`${name}_shape`);
  const reshaped = model.uniqueName(`${name}_dqr`);
  graph.addInitializer(shape, new Tensor('int64', [dims.length], BigInt64Array.from(dims, BigInt)));
  graph.replaceUses(dequantized, reshaped);
  // Right after the DequantizeLinear, which emitWeightDequantize put first.
  graph.addNode(
    {
      opType: 'Reshape',
      name: model.uniqueName(`${name}_Reshape`),
      inputs: [dequantized, shape],
      outputs: [reshaped],
    },
    1,
  );
  return reshaped;
}

/**
 * Swaps the constant `name` for integers, scale and (unless all zero) zero point initializers
 * read by one DequantizeLinear (placed first: it depends on constants only). Every reader of `name` reads
 * the dequantized value instead, so a tied constant is converted once; the float initializer is
 * dropped when nothing else reads it. Returns the dequantized value's name.
 */
function replaceWithDequantize(
  graph: Graph,
  name: string,
  quantized: Tensor,
  scale: Tensor,
  zeroPoint: Tensor | undefined,
  attributes: Record<string, number>,
): string {
  const names = qdqNames(graph.model, name);
  graph.addInitializer(names.quantized, quantized);
  graph.addInitializer(names.scale, scale);
  const inputs = [names.quantized, names.scale];
  if (zeroPoint) {
    graph.addInitializer(names.zeroPoint, zeroPoint);
    inputs.push(names.zeroPoint);
  }
  graph.replaceUses(name, names.dequantized);
  graph.addNode(
    {
      opType: 'DequantizeLinear',
      name: names.dequantizeNode,
      inputs,
      outputs: [names.dequantized],
      attributes,
    },
    0,
  );
  if (!graph.isUsed(name)) graph.removeInitializer(name);
  return names.dequantized;
}

/**
 * Inserts QuantizeLinear -> DequantizeLinear on an activation with one scale and zero point, and
 * makes `readers` (default: every node reading it) read the dequantized value. A graph output
 * keeps its name: the producer's value is renamed and the DequantizeLinear produces the output.
 * Returns the name of the dequantized value.
 */
export function emitActivationQdq(
  graph: Graph,
  tensor: string,
  scale: number,
  zeroPoint: number,
  storage: ActivationStorage,
  readers?: readonly NodeProto[],
): string {
  const model = graph.model;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new QgrainError(
      'non-finite-range',
      `activation '${tensor}': scale ${scale} is not a positive finite number`,
    );
  }
  const names = qdqNames(model, tensor);
  let source = tensor;
  let output: string;
  const isOutput = graph.isOutput(tensor);
  if (isOutput && readers === undefined) {
    // Rename the float value so the graph output can become the dequantized one.
    source = model.uniqueName(`${tensor}_float`);
    const producer = graph.producer(tensor);
    if (!producer)
      throw new QgrainError(
        'unsupported',
        `graph output '${tensor}' is not produced by a node; it cannot be quantized`,
      );
    // Readers keep reading `tensor`, which is now the dequantized value.
    producer.output[producer.output.indexOf(tensor)] = source;
    output = tensor;
  } else {
    output = names.dequantized;
  }
  const { scale: scaleName, zeroPoint: zpName, quantized } = names;
  graph.addInitializer(scaleName, new Tensor('float32', [], Float32Array.of(scale)));
  graph.addInitializer(zpName, scalarZeroPoint(storage, zeroPoint));
  const targets = readers ?? graph.consumers(source);
  if (!(isOutput && readers === undefined)) {
    for (const node of targets) {
      for (let k = 0; k < node.input.length; k++) if (node.input[k] === source) node.input[k] = output;
    }
  }
  const at = insertionPoint(graph, source);
  graph.addNode(
    {
      opType: 'QuantizeLinear',
      name: names.quantizeNode,
      inputs: [source, scaleName, zpName],
      outputs: [quantized],
    },
    at,
  );
  graph.addNode(
    {
      opType: 'DequantizeLinear',
      name: names.dequantizeNode,
      inputs: [quantized, scaleName, zpName],
      outputs: [output],
    },
    at + 1,
  );
  return output;
}

/** INT32 limits of a quantized bias (QLinearConv/QGemm accumulate in int32). */
const INT32_MAX = 2 ** 31 - 1;

/** What happened to a bias. */
export type BiasOutcome =
  | { readonly quantized: true; readonly name: string }
  | { readonly quantized: false; readonly reason: string };

/**
 * Quantizes a Conv/Gemm bias to int32 with scale inputScale * weightScale[c] and zero point 0, as
 * onnxruntime's integer kernels expect. A bias whose integers would overflow int32 (a tiny weight
 * scale next to a large bias) stays float, and the outcome says so.
 */
export function emitBiasDequantize(
  graph: Graph,
  name: string,
  bias: Float32Array,
  inputScale: number,
  weightScale: Float32Array,
): BiasOutcome {
  const channels = bias.length;
  const scale = new Float32Array(channels);
  const q = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = Math.fround(inputScale * weightScale[weightScale.length === 1 ? 0 : c]!);
    scale[c] = s;
    const v = roundHalfToEven(bias[c]! / s);
    if (!Number.isFinite(v) || Math.abs(v) > INT32_MAX) {
      return {
        quantized: false,
        reason: `bias '${name}' channel ${c}: ${bias[c]} / (${inputScale} * ${weightScale[c]}) overflows int32; kept float`,
      };
    }
    q[c] = v;
  }
  const output = replaceWithDequantize(
    graph,
    name,
    new Tensor('int32', [channels], q),
    new Tensor('float32', [channels], scale),
    // Zero point 0, left implicit.
    undefined,
    { axis: 0 },
  );
  return { quantized: true, name: output };
}
