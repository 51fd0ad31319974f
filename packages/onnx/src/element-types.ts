import { readInt } from './attributes.js';
import { OnnxDataType } from './data-type.js';
import type { Graph } from './graph.js';

/** Ops whose outputs are int64 whatever their inputs. */
const INT64_OUTPUTS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);
/** Ops whose outputs are bool. */
const BOOL_OUTPUTS = new Set([
  'Equal',
  'Greater',
  'GreaterOrEqual',
  'Less',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
]);
/** Ops whose first output takes the element type of their input at this index (not the first). */
const TYPE_FROM_INPUT: Readonly<Record<string, number>> = {
  Where: 1,
  DequantizeLinear: 1,
  ConstantOfShape: -1,
};

/**
 * The element type (ONNX TensorProto code) of every value of a graph that can be told without
 * running it: graph inputs and initializers as declared, node outputs by a few rules (Cast's
 * `to`, Shape/ArgMax -> int64, comparisons -> bool, QuantizeLinear -> its zero point's type),
 * and otherwise the type of the node's first typed input. value_info entries win when present.
 * Values whose type cannot be told are absent from the map.
 */
export function elementTypes(graph: Graph): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...graph.proto.input, ...graph.proto.valueInfo, ...graph.proto.output]) {
    const t = v.type?.tensorType?.elemType;
    if (t) types.set(v.name, t);
  }
  for (const init of graph.proto.initializer) types.set(init.name, init.dataType);
  for (const node of graph.topologicalOrder()) {
    let type: number | undefined;
    if (node.opType === 'Cast') type = readInt(node, 'to', 0) || undefined;
    else if (INT64_OUTPUTS.has(node.opType)) type = OnnxDataType.INT64;
    else if (BOOL_OUTPUTS.has(node.opType)) type = OnnxDataType.BOOL;
    else if (node.opType === 'QuantizeLinear')
      type = node.input[2] ? types.get(node.input[2]) : OnnxDataType.UINT8;
    else if (node.opType === 'DynamicQuantizeLinear') type = OnnxDataType.UINT8;
    else if (node.opType === 'ConstantOfShape') type = OnnxDataType.FLOAT;
    else {
      const from = TYPE_FROM_INPUT[node.opType];
      const source =
        from !== undefined && from >= 0 ? node.input[from] : node.input.find((i) => i !== '' && types.has(i));
      type = source ? types.get(source) : undefined;
    }
    node.output.forEach((output, k) => {
      // TopK and MaxPool return int64 indices as their second output.
      const t = k === 1 && (node.opType === 'TopK' || node.opType === 'MaxPool') ? OnnxDataType.INT64 : type;
      if (output !== '' && t && !types.has(output)) types.set(output, t);
    });
  }
  return types;
}
