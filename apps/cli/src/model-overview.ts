import {
  type Model,
  type TensorProto,
  dtypeOfOnnx,
  int64ToNumber,
  getAttribute,
  onnxByteLength,
  onnxTypeName,
} from '@qgrain/onnx';
import { shapeSize } from '@qgrain/tensor';

/** Element count, tensor count and bytes of the constant tensors of one dtype. */
export interface DTypeTally {
  readonly dtype: string;
  readonly tensors: number;
  readonly elements: number;
  /** Undefined for types without a fixed width (strings). */
  readonly bytes: number | undefined;
}

/** Where a model keeps weights outside its .onnx file. */
export interface ExternalDataTally {
  /** Data file names, relative to the model's folder, in first-seen order. */
  readonly files: readonly string[];
  readonly tensors: number;
  readonly bytes: number;
}

/** What a model is made of, as stored in its file (before any prepare pass). */
export interface ModelOverview {
  readonly irVersion: number;
  readonly producer: string;
  /** Operator set imports: domain ('ai.onnx' for the default set) to version. */
  readonly opsets: Readonly<Record<string, number>>;
  /** Node count per op type (domain-qualified outside the default set), most frequent first. */
  readonly ops: readonly (readonly [string, number])[];
  readonly nodes: number;
  /** Constant tensors (initializers and Constant node values, subgraphs included) per dtype. */
  readonly parameters: readonly DTypeTally[];
  readonly externalData: ExternalDataTally;
}

const DEFAULT_DOMAIN_NAME = 'ai.onnx';
/** ONNX's TensorProto.data_location value for bytes kept in another file. */
const EXTERNAL_DATA_LOCATION = 1;

/**
 * Counts what a model holds. Constant nodes are counted with initializers because exporters such
 * as Paddle2ONNX keep every weight in them: counting initializers alone would report no weights.
 */
export function overviewOf(model: Model): ModelOverview {
  const opsets: Record<string, number> = {};
  for (const entry of model.proto.opsetImport) {
    opsets[entry.domain === '' ? DEFAULT_DOMAIN_NAME : entry.domain] = int64ToNumber(entry.version);
  }

  const ops = new Map<string, number>();
  const tensors: TensorProto[] = [];
  let nodes = 0;
  for (const graph of model.graphs()) {
    tensors.push(...graph.proto.initializer);
    for (const node of graph.nodes) {
      nodes++;
      const domain = node.domain === '' || node.domain === DEFAULT_DOMAIN_NAME ? '' : `${node.domain}.`;
      const op = `${domain}${node.opType}`;
      ops.set(op, (ops.get(op) ?? 0) + 1);
      // A Constant's tensor is its 'value'; value_float(s)/value_int(s) are scalars and shape lists.
      const value = node.opType === 'Constant' ? getAttribute(node, 'value')?.t : undefined;
      if (value) tensors.push(value);
    }
  }

  const byDtype = new Map<string, { tensors: number; elements: number; bytes: number | undefined }>();
  const files: string[] = [];
  let externalTensors = 0;
  let externalBytes = 0;
  for (const tensor of tensors) {
    const dtype = dtypeOfOnnx(tensor.dataType) ?? onnxTypeName(tensor.dataType).toLowerCase();
    const elements = shapeSize(tensor.dims.map((d) => int64ToNumber(d)));
    const bytes = onnxByteLength(tensor.dataType, elements);
    const tally = byDtype.get(dtype) ?? { tensors: 0, elements: 0, bytes: 0 };
    tally.tensors++;
    tally.elements += elements;
    tally.bytes = tally.bytes === undefined || bytes === undefined ? undefined : tally.bytes + bytes;
    byDtype.set(dtype, tally);
    if (tensor.dataLocation === EXTERNAL_DATA_LOCATION) {
      const location = tensor.externalData.find((e) => e.key === 'location')?.value ?? '';
      if (!files.includes(location)) files.push(location);
      externalTensors++;
      externalBytes += bytes ?? 0;
    }
  }

  return {
    irVersion: int64ToNumber(model.proto.irVersion),
    producer: [model.proto.producerName, model.proto.producerVersion].filter((s) => s !== '').join(' '),
    opsets,
    ops: [...ops].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    nodes,
    parameters: [...byDtype]
      .map(([dtype, t]) => ({ dtype, ...t }))
      .sort((a, b) => (b.bytes ?? 0) - (a.bytes ?? 0)),
    externalData: { files, tensors: externalTensors, bytes: externalBytes },
  };
}
