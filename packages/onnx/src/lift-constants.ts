import { Tensor } from '@qgrain/tensor';
import { getAttribute } from './attributes.js';
import type { Model } from './model.js';
import {
  type TensorProto,
  AttributeType,
  int64ToBigInt,
  int64ToNumber,
  isDefaultDomain,
} from './proto-types.js';
import { cloneMessage } from './serialize.js';
import { makeTensorProto } from './tensor-proto.js';

// IR version 4 is the first where an initializer need not also be a graph input.
const IR_VERSION_INITIALIZERS_WITHOUT_INPUTS = 4;

/** The tensor a Constant node holds, as a TensorProto named `name`, or undefined for forms kept as nodes. */
function constantTensor(node: Model['graph']['nodes'][number], name: string): TensorProto | undefined {
  const value = getAttribute(node, 'value');
  if (value?.t) {
    const copy = cloneMessage(value.t);
    copy.name = name;
    return copy;
  }
  const valueFloat = getAttribute(node, 'value_float');
  if (valueFloat?.type === AttributeType.FLOAT)
    return makeTensorProto(name, new Tensor('float32', [], Float32Array.of(valueFloat.f)));
  const valueFloats = getAttribute(node, 'value_floats');
  if (valueFloats?.type === AttributeType.FLOATS) {
    return makeTensorProto(
      name,
      new Tensor('float32', [valueFloats.floats.length], Float32Array.from(valueFloats.floats)),
    );
  }
  const valueInt = getAttribute(node, 'value_int');
  if (valueInt?.type === AttributeType.INT) {
    return makeTensorProto(name, new Tensor('int64', [], BigInt64Array.of(int64ToBigInt(valueInt.i))));
  }
  const valueInts = getAttribute(node, 'value_ints');
  if (valueInts?.type === AttributeType.INTS) {
    return makeTensorProto(
      name,
      new Tensor('int64', [valueInts.ints.length], BigInt64Array.from(valueInts.ints, int64ToBigInt)),
    );
  }
  // value_string(s) and sparse_value stay Constant nodes: they are never weights to quantize.
  return undefined;
}

/**
 * Turns Constant nodes (value, value_float(s), value_int(s)) into initializers of the graph they
 * are in, subgraphs included, so weights are found in one place. A Constant whose output is an
 * output of its graph stays a node (an initializer cannot stand for a graph output everywhere).
 * Returns the number of Constant nodes lifted.
 */
export function liftConstants(model: Model): number {
  if (int64ToNumber(model.proto.irVersion) < IR_VERSION_INITIALIZERS_WITHOUT_INPUTS) return 0;
  let lifted = 0;
  for (const graph of model.graphs()) {
    for (const node of [...graph.nodes]) {
      if (node.opType !== 'Constant' || !isDefaultDomain(node) || node.output.length !== 1) continue;
      const name = node.output[0]!;
      if (graph.isOutput(name)) continue;
      const tensor = constantTensor(node, name);
      if (!tensor) continue;
      graph.removeNode(node);
      graph.proto.initializer.push(tensor);
      lifted++;
    }
  }
  return lifted;
}
