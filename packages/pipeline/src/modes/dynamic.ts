import {
  formatQuantSpec,
  parseQuantSpec,
  qparamsFromData,
  quantizationSqnr,
  quantize,
  storageCost,
} from '@qgrain/granularity';
import {
  type Graph,
  type Model,
  type NodeProto,
  OnnxDataType,
  readFloat,
  DYNAMIC_QUANTIZE_OPSET,
  REDUCE_AXES_INPUT_OPSET,
  readInt,
  upgradeOpset,
} from '@qgrain/onnx';
import { type Backend, QgrainError, Tensor, jsBackend } from '@qgrain/tensor';
import { quantizeLstmsDynamically } from '../emit/dynamic-lstm.js';
import { directReaders, findNode, graphsByPath } from '../plan/graph-scope.js';
import { type WeightWrittenHook, newModelInitializers } from '../emit/written-initializers.js';
import { DEFAULT_WEIGHT_SCHEME, planMatMulWeights, transpose2d } from '../plan/plan.js';
import { skippedWeightNotes } from './skip-notes.js';
import type { QuantizeReport, WeightReport } from '../report/quantize-report.js';

/** Activation schemes of dynamic quantization: symmetric int8 per row, or DynamicQuantizeLinear's uint8 per tensor. */
export const DYNAMIC_SCHEMES = ['int8/per-token', 'uint8/per-tensor'] as const;

/** The ops dynamic mode rewrites: MatMul/Gemm to MatMulInteger, LSTM to DynamicQuantizeLSTM. */
const DYNAMIC_OPS: readonly string[] = ['MatMul', 'Gemm', 'LSTM'];

/** Largest int8 code used for activations: symmetric [-127, 127], so -x quantizes to -q exactly. */
const INT8_ACTIVATION_QMAX = 127;
/**
 * Floor of a per-row scale: an all-zero row would give scale 0 and 0/0; the smallest normal
 * float32 keeps x / scale finite and turns that row into zeros, which is what it is.
 */
const MIN_ROW_SCALE = 2 ** -126;

/** Options of the dynamic mode (see `QuantizeOptions`). */
export interface DynamicOptions {
  /** `int8/per-token` (default) or `uint8/per-tensor`. */
  readonly activations?: string;
  /** Weight scheme; int8 per channel (default) is what MatMulInteger's int32 rescale allows. */
  readonly weights?: string;
  readonly exclude?: readonly string[];
  readonly backend?: Backend;
  /** Called after each weight is written, with what it added (see `WeightWrittenHook`). */
  readonly onWeightWritten?: WeightWrittenHook;
}

function constant(graph: Graph, base: string, tensor: Tensor): string {
  const name = graph.model.uniqueName(base);
  graph.addInitializer(name, tensor);
  return name;
}

/**
 * Replaces X -> MatMul(X, W) by integer arithmetic any ONNX runtime runs: X quantized at run time
 * (per row: s = max|x| / 127 over the last axis; or per tensor by DynamicQuantizeLinear),
 * MatMulInteger with the int8 weight, then the int32 result rescaled by s and by the weight's
 * per-channel scale (with Gemm's alpha folded in) and Gemm's bias added back.
 */
function emitDynamicMatMul(
  graph: Graph,
  node: NodeProto,
  weightQ: string,
  weightScale: string,
  perToken: boolean,
  half = false,
): void {
  const model = graph.model;
  const name = (s: string): string => model.uniqueName(`${node.name}_${s}`);
  const nodes: {
    opType: string;
    inputs: string[];
    outputs: string[];
    attributes?: Record<string, number | number[]>;
  }[] = [];
  // A float16 node computes in float32 between a Cast in and a Cast out: the scales and the
  // int32 rescale are float32 constants.
  const toFloat = (value: string, label: string): string => {
    if (!half) return value;
    const out = name(label);
    nodes.push({ opType: 'Cast', inputs: [value], outputs: [out], attributes: { to: OnnxDataType.FLOAT } });
    return out;
  };
  const x = toFloat(node.input[0]!, 'x_float');
  const y = half ? name('y_float') : node.output[0]!;
  const gemmBias = node.opType === 'Gemm' ? node.input[2] : undefined;
  const bias = gemmBias ? toFloat(gemmBias, 'bias_float') : undefined;
  const beta = node.opType === 'Gemm' ? readFloat(node, 'beta', 1) : 1;
  let xq: string;
  let xScale: string;
  let xZero = '';
  if (perToken) {
    const abs = name('abs');
    const amax = name('absmax');
    const raw = name('row_scale_raw');
    xScale = name('row_scale');
    const scaled = name('scaled');
    const rounded = name('rounded');
    const clipped = name('clipped');
    xq = name('quantized');
    nodes.push({ opType: 'Abs', inputs: [x], outputs: [abs] });
    const opset = model.opsetVersion() ?? DYNAMIC_QUANTIZE_OPSET;
    if (opset >= REDUCE_AXES_INPUT_OPSET) {
      const axes = constant(graph, `${node.name}_axes`, new Tensor('int64', [1], BigInt64Array.of(-1n)));
      nodes.push({ opType: 'ReduceMax', inputs: [abs, axes], outputs: [amax], attributes: { keepdims: 1 } });
    } else {
      nodes.push({
        opType: 'ReduceMax',
        inputs: [abs],
        outputs: [amax],
        attributes: { axes: [-1], keepdims: 1 },
      });
    }
    const qmax = constant(
      graph,
      `${node.name}_qmax`,
      new Tensor('float32', [], Float32Array.of(INT8_ACTIVATION_QMAX)),
    );
    const floor = constant(
      graph,
      `${node.name}_min_scale`,
      new Tensor('float32', [], Float32Array.of(MIN_ROW_SCALE)),
    );
    const lo = constant(
      graph,
      `${node.name}_qmin`,
      new Tensor('float32', [], Float32Array.of(-INT8_ACTIVATION_QMAX)),
    );
    nodes.push(
      { opType: 'Div', inputs: [amax, qmax], outputs: [raw] },
      { opType: 'Max', inputs: [raw, floor], outputs: [xScale] },
      { opType: 'Div', inputs: [x, xScale], outputs: [scaled] },
      // ONNX Round is half-to-even, as QuantizeLinear is.
      { opType: 'Round', inputs: [scaled], outputs: [rounded] },
      { opType: 'Clip', inputs: [rounded, lo, qmax], outputs: [clipped] },
      { opType: 'Cast', inputs: [clipped], outputs: [xq], attributes: { to: OnnxDataType.INT8 } },
    );
  } else {
    xq = name('quantized');
    xScale = name('scale');
    xZero = name('zero_point');
    nodes.push({ opType: 'DynamicQuantizeLinear', inputs: [x], outputs: [xq, xScale, xZero] });
  }
  const acc = name('int32');
  const accFloat = name('int32_float');
  const rowScaled = name('rescaled_x');
  const product = bias ? name('product') : y;
  nodes.push(
    { opType: 'MatMulInteger', inputs: xZero ? [xq, weightQ, xZero] : [xq, weightQ], outputs: [acc] },
    { opType: 'Cast', inputs: [acc], outputs: [accFloat], attributes: { to: OnnxDataType.FLOAT } },
    { opType: 'Mul', inputs: [accFloat, xScale], outputs: [rowScaled] },
    { opType: 'Mul', inputs: [rowScaled, weightScale], outputs: [product] },
  );
  if (bias) {
    let c = bias;
    if (beta !== 1) {
      c = name('bias_scaled');
      const b = constant(graph, `${node.name}_beta`, new Tensor('float32', [], Float32Array.of(beta)));
      nodes.push({ opType: 'Mul', inputs: [bias, b], outputs: [c] });
    }
    nodes.push({ opType: 'Add', inputs: [product, c], outputs: [y] });
  }
  if (half)
    nodes.push({
      opType: 'Cast',
      inputs: [y],
      outputs: [node.output[0]!],
      attributes: { to: OnnxDataType.FLOAT16 },
    });
  let at = graph.nodes.indexOf(node);
  graph.removeNode(node);
  for (const n of nodes) graph.addNode({ ...n, name: model.uniqueName(`${node.name}_${n.opType}`) }, at++);
}

/**
 * Dynamic W8A8 for MatMul/Gemm with a constant weight: weights int8 per output channel, stored
 * [K, N]; activations quantized at run time, per token (each row over the last axis, symmetric
 * int8, with standard operators only) or per tensor (DynamicQuantizeLinear, uint8). No
 * calibration data is needed. Gemm with transA stays float (MatMulInteger has no transpose).
 * Nodes inside If/Loop/Scan bodies are rewritten the same way. LSTM nodes become onnxruntime's
 * com.microsoft.DynamicQuantizeLSTM (see quantizeLstmsDynamically), and a note says so.
 */
export function quantizeDynamic(model: Model, options: DynamicOptions = {}): QuantizeReport {
  const backend = options.backend ?? jsBackend;
  const activation = options.activations ?? DYNAMIC_SCHEMES[0];
  const aSpec = parseQuantSpec(activation);
  const perToken = aSpec.granularity.kind === 'per-token';
  const text = formatQuantSpec(aSpec);
  if (!(DYNAMIC_SCHEMES as readonly string[]).includes(text)) {
    throw new QgrainError(
      'invalid-spec',
      `dynamic activations are ${DYNAMIC_SCHEMES.join(' or ')}, got '${activation}' (int8 per-token is symmetric per row; uint8 per-tensor is DynamicQuantizeLinear's)`,
    );
  }
  const weightText = options.weights ?? DEFAULT_WEIGHT_SCHEME;
  const wSpec = parseQuantSpec(weightText);
  if (
    wSpec.type.bits !== 8 ||
    !wSpec.type.signed ||
    !wSpec.symmetric ||
    wSpec.granularity.kind === 'per-block'
  ) {
    throw new QgrainError(
      'invalid-spec',
      `dynamic W8A8 weights are symmetric int8 per channel or per tensor (MatMulInteger's result is rescaled per output column), got '${weightText}'`,
    );
  }
  const from = model.opsetVersion() ?? DYNAMIC_QUANTIZE_OPSET;
  const upgrade = upgradeOpset(model, DYNAMIC_QUANTIZE_OPSET);
  const graphs = graphsByPath(model);
  const plan = planMatMulWeights(model, weightText, options.exclude, DYNAMIC_OPS);
  const notes: string[] = [];
  const excluded = [...plan.excluded];
  const reports: WeightReport[] = [];
  const written = newModelInitializers(model);
  for (const w of plan.weights.filter((p) => p.role.op === 'MatMul' || p.role.op === 'Gemm')) {
    const owner = graphs.get(w.graph)!;
    const init = owner.initializer(w.initializer)!;
    const found = w.nodes.map((n) => findNode(model, n)!);
    const nodes = found.map((f) => f.node);
    const blocked = nodes.find(
      (n) => init.dims.length !== 2 || (n.opType === 'Gemm' && readInt(n, 'transA', 0) !== 0),
    );
    if (blocked || directReaders(model, w.initializer).length !== nodes.length) {
      excluded.push(...w.nodes);
      notes.push(
        `${w.initializer}: kept float (${blocked ? `${blocked.opType} '${blocked.name}' needs a 2-D weight and no transA` : 'read by other ops too'})`,
      );
      continue;
    }
    let values = init.toTensor().toFloat32();
    let [k, n] = init.dims as [number, number];
    const transB = nodes[0]!.opType === 'Gemm' && readInt(nodes[0]!, 'transB', 0) !== 0;
    if (nodes.some((m) => m.opType === 'Gemm' && (readInt(m, 'transB', 0) !== 0) !== transB)) {
      excluded.push(...w.nodes);
      notes.push(`${w.initializer}: kept float (read both transposed and not)`);
      continue;
    }
    if (transB) {
      // MatMulInteger has no transpose: store B as [K, N] once, offline.
      values = transpose2d(values, k, n);
      [k, n] = [n, k];
    }
    const qp = qparamsFromData(values, [k, n], wSpec, {
      backend,
      context: { channelAxis: 1 },
      name: w.initializer,
    });
    const alpha = nodes[0]!.opType === 'Gemm' ? readFloat(nodes[0]!, 'alpha', 1) : 1;
    if (nodes.some((m) => (m.opType === 'Gemm' ? readFloat(m, 'alpha', 1) : 1) !== alpha)) {
      excluded.push(...w.nodes);
      notes.push(`${w.initializer}: kept float (readers differ in alpha)`);
      continue;
    }
    const scale = new Float32Array(n);
    for (let c = 0; c < n; c++) scale[c] = qp.scale[qp.scale.length === 1 ? 0 : c]! * alpha;
    const qName = constant(
      owner,
      `${w.initializer}_q`,
      new Tensor('int8', [k, n], quantize(values, qp, backend) as Int8Array),
    );
    const sName = constant(owner, `${w.initializer}_s`, new Tensor('float32', [n], scale));
    for (const f of found)
      emitDynamicMatMul(f.graph, f.node, qName, sName, perToken, init.dtype === 'float16');
    const bytesBefore = init.byteLength ?? values.length * 4;
    if (!owner.isUsed(w.initializer)) owner.removeInitializer(w.initializer);
    reports.push({
      name: w.initializer,
      nodes: w.nodes,
      op: w.role.op,
      shape: init.dims,
      depthwise: false,
      scheme: formatQuantSpec(wSpec),
      sqnrDb: quantizationSqnr(values, qp, backend),
      bytesBefore,
      bytesAfter: storageCost([k, n], wSpec, { channelAxis: 1 }).bytes,
      graph: w.graph,
      ...(w.readerGraphs ? { readerGraphs: w.readerGraphs } : {}),
    });
    options.onWeightWritten?.(written());
  }
  const lstm = quantizeLstmsDynamically(model, plan, wSpec, backend);
  reports.push(...lstm.reports);
  notes.push(...lstm.notes);
  excluded.push(...lstm.excluded);
  notes.push(...skippedWeightNotes(model, 'dynamic', DYNAMIC_OPS, plan.skipped, reports.length));
  return {
    mode: 'dynamic',
    opset: { from, to: upgrade.to },
    weights: reports,
    activations: [],
    biases: [],
    nodeInputs: {},
    excluded,
    calibration: undefined,
    notes,
    dynamic: text,
  };
}
