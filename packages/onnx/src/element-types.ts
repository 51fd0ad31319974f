import { getAttribute, nodeSubgraphs, readInt } from './attributes.js';
import { OnnxDataType } from './data-type.js';
import type { Graph } from './graph.js';
import type { NodeProto } from './proto-types.js';

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
 * Where the outputs of an op with a body get their types: output k of If is output k of either
 * branch; a Loop body's outputs start with the condition, so Loop's output k is body output k + 1;
 * a Scan body's outputs line up with Scan's own.
 */
const BODY_OUTPUT_OFFSET: Readonly<Record<string, number>> = { If: 0, Loop: 1, Scan: 0 };

/** The declared element types of a node's outputs taken from its body, when it has one. */
function bodyOutputTypes(node: NodeProto): (number | undefined)[] | undefined {
  const offset = BODY_OUTPUT_OFFSET[node.opType];
  const body = nodeSubgraphs(node)[0]?.graph;
  if (offset === undefined || !body) return undefined;
  return node.output.map((_, k) => body.output[k + offset]?.type?.tensorType?.elemType || undefined);
}

/**
 * The element type (ONNX TensorProto code) of every value of a graph that can be told without
 * running it: graph inputs and initializers as declared, node outputs by a few rules (Cast's
 * `to`, Shape/ArgMax -> int64, comparisons -> bool, QuantizeLinear -> its zero point's type,
 * ConstantOfShape -> its value's type, If/Loop/Scan -> their body's declared outputs),
 * and otherwise the type of the node's first typed input. value_info entries win when present.
 * Values whose type cannot be told are absent from the map. For a subgraph, pass the types of
 * its enclosing graph as `outer` (they are included in the result).
 */
export function elementTypes(graph: Graph, outer?: ReadonlyMap<string, number>): Map<string, number> {
  // A body reads values of its enclosing graphs: their types, when given, seed the inference.
  const types = new Map<string, number>(outer ?? []);
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
    else if (node.opType === 'ConstantOfShape')
      // The `value` attribute's tensor sets the type; without it the output is float zeros.
      type = getAttribute(node, 'value')?.t?.dataType || OnnxDataType.FLOAT;
    else if (BODY_OUTPUT_OFFSET[node.opType] !== undefined) {
      const fromBody = bodyOutputTypes(node) ?? [];
      node.output.forEach((output, k) => {
        const t = fromBody[k];
        if (output !== '' && t && !types.has(output)) types.set(output, t);
      });
      continue;
    } else {
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
