import { type QParams, quantize } from '@qgrain/granularity';
import { type Graph, type NodeProto, OnnxDataType } from '@qgrain/onnx';
import {
  type Backend,
  type DType,
  QgrainError,
  type QuantStorage,
  Tensor,
  float32ArrayToFloat16,
  jsBackend,
  roundHalfToEven,
} from '@qgrain/tensor';
import { dequantizeSites } from '../plan/graph-scope.js';

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

/** The float types a dequantized weight can be handed to its readers in. */
export type WeightFloatType = 'float32' | 'float16';

/** What a weight's readers need back from its DequantizeLinear. */
export interface DequantizeTarget {
  /** The weight's own shape, when it was quantized in another view (a Reshape follows). */
  readonly reshapeTo?: readonly number[];
  /**
   * The weight's own float type (default float32). DequantizeLinear's output takes its scale's
   * type, so a float16 weight gets float16 scales; float16 scales asked for by the scheme on a
   * float32 weight get a Cast back.
   */
  readonly dtype?: WeightFloatType;
}

/** A scale tensor in the type DequantizeLinear should produce. */
function scaleTensor(scale: Float32Array, shape: readonly number[], type: WeightFloatType): Tensor {
  return type === 'float16'
    ? new Tensor('float16', shape, float32ArrayToFloat16(scale))
    : new Tensor('float32', shape, Float32Array.from(scale));
}

/**
 * Replaces a float weight initializer by its quantized integers, its scales and zero points, and
 * a DequantizeLinear that every former reader now reads: a tied weight is quantized once. The
 * float initializer is removed. Zero points that are all 0 are left out unless
 * `explicitZeroPoint` (see zeroPointTensor). `graph` is the graph that holds the initializer; the
 * integers stay there and the DequantizeLinear goes where its readers are (see dequantizeSites).
 * Returns the name of the value the readers of the first site read.
 */
export function emitWeightDequantize(
  graph: Graph,
  name: string,
  values: Float32Array,
  qp: QParams,
  backend: Backend = jsBackend,
  explicitZeroPoint = false,
  target: DequantizeTarget = {},
): string {
  return emitQuantizedWeight(graph, name, quantize(values, qp, backend), qp, explicitZeroPoint, target);
}

/**
 * emitWeightDequantize for integers already computed as `quantize(values, qp)` (by a worker
 * thread: see parallel/weight-task.ts).
 */
export function emitQuantizedWeight(
  graph: Graph,
  name: string,
  stored: QuantStorage,
  qp: QParams,
  explicitZeroPoint = false,
  target: DequantizeTarget = {},
): string {
  const storage = qp.range.storage as DType;
  const quantized = new Tensor(storage, qp.shape, stored as Tensor['data']);
  const dtype = target.dtype ?? 'float32';
  const scaleType: WeightFloatType =
    dtype === 'float16' || qp.spec.scaleType === 'float16' ? 'float16' : 'float32';
  return replaceWithDequantize(
    graph,
    name,
    quantized,
    scaleTensor(qp.scale, qp.scaleShape, scaleType),
    zeroPointTensor(qp, explicitZeroPoint),
    qdqAttributes(qp),
    { ...target, dtype },
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
  dtype: WeightFloatType = 'float32',
): string {
  return emitWeightDequantize(graph, name, values, qp, backend, explicitZeroPoint, {
    reshapeTo: dims,
    dtype,
  });
}

/**
 * Swaps the constant `name` for integers, scale and (unless all zero) zero point initializers
 * in `owner`, the graph that holds it, read by one DequantizeLinear per site (placed first in the
 * site: it depends on constants only), followed by a Cast and a Reshape where the readers need
 * them. Every reader of `name` reads the result instead, so a tied constant is converted once;
 * the float initializer is dropped when nothing else reads it. Returns the value the first site's
 * readers read.
 */
function replaceWithDequantize(
  owner: Graph,
  name: string,
  quantized: Tensor,
  scale: Tensor,
  zeroPoint: Tensor | undefined,
  attributes: Record<string, number>,
  target: DequantizeTarget = {},
): string {
  const model = owner.model;
  const names = qdqNames(model, name);
  const sites = dequantizeSites(owner, name);
  // Read by one graph: the integers move there, next to their DequantizeLinear. onnxruntime's
  // Q/DQ fusions look for their constants in the node's own graph (one that reads them from an
  // enclosing graph aborted the process on silero VAD v4); shared by several, they stay put.
  const store = sites.length === 1 ? sites[0]! : owner;
  store.addInitializer(names.quantized, quantized);
  store.addInitializer(names.scale, scale);
  const inputs = [names.quantized, names.scale];
  if (zeroPoint) {
    store.addInitializer(names.zeroPoint, zeroPoint);
    inputs.push(names.zeroPoint);
  }
  const dtype = target.dtype ?? 'float32';
  const cast = (scale.dtype as string) !== dtype;
  let shape: string | undefined;
  if (target.reshapeTo) {
    shape = model.uniqueName(`${name}_shape`);
    store.addInitializer(
      shape,
      new Tensor('int64', [target.reshapeTo.length], BigInt64Array.from(target.reshapeTo, BigInt)),
    );
  }
  let first: string | undefined;
  sites.forEach((site, k) => {
    const dequantized = k === 0 ? names.dequantized : model.uniqueName(`${name}_dq`);
    let at = 0;
    let value = cast ? model.uniqueName(`${name}_dq_${scale.dtype}`) : dequantized;
    site.addNode(
      {
        opType: 'DequantizeLinear',
        name: k === 0 ? names.dequantizeNode : model.uniqueName(`${name}_DQ`),
        inputs,
        outputs: [value],
        attributes,
      },
      at++,
    );
    if (cast) {
      const to = dtype === 'float16' ? OnnxDataType.FLOAT16 : OnnxDataType.FLOAT;
      const castOut = shape ? model.uniqueName(`${name}_dq_${dtype}`) : dequantized;
      site.addNode(
        {
          opType: 'Cast',
          name: model.uniqueName(`${name}_Cast`),
          inputs: [value],
          outputs: [castOut],
          attributes: { to },
        },
        at++,
      );
      value = castOut;
    }
    if (shape) {
      const reshaped = model.uniqueName(`${name}_dqr`);
      site.addNode(
        {
          opType: 'Reshape',
          name: model.uniqueName(`${name}_Reshape`),
          inputs: [value, shape],
          outputs: [reshaped],
        },
        at++,
      );
      value = reshaped;
    }
    site.replaceUses(name, value);
    first ??= value;
  });
  if (!owner.isUsed(name)) owner.removeInitializer(name);
  return first!;
}

/**
 * Inserts QuantizeLinear -> DequantizeLinear on an activation with one scale and zero point, and
 * makes `readers` (default: every node reading it) read the dequantized value. `floatType` is the
 * activation's own type, which its scale takes. A graph output
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
  floatType: WeightFloatType = 'float32',
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
  // QuantizeLinear's scale has the type of what it quantizes; a float16 activation's is float16.
  graph.addInitializer(scaleName, scaleTensor(Float32Array.of(scale), [], floatType));
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
 * scale next to a large bias) stays float, and the outcome says so. A float16 bias gets float16
 * scales, so its DequantizeLinear gives float16.
 */
export function emitBiasDequantize(
  graph: Graph,
  name: string,
  bias: Float32Array,
  inputScale: number,
  weightScale: Float32Array,
  floatType: WeightFloatType = 'float32',
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
    scaleTensor(scale, [channels], floatType),
    // Zero point 0, left implicit.
    undefined,
    { axis: 0 },
    { dtype: floatType },
  );
  return { quantized: true, name: output };
}
