import { QgrainError, type Tensor } from '@qgrain/tensor';
import { onnxTypes } from './schema.js';
import {
  type AttributeProto,
  AttributeType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  int64ToNumber,
} from './proto-types.js';
import { makeTensorProto } from './tensor-proto.js';

/**
 * What an attribute can be given as when building a node. Numbers are INT when they are integers
 * and FLOAT otherwise; `{ float: 1 }` forces FLOAT for a whole number, `{ floats: [...] }` likewise.
 */
export type AttributeInit =
  | number
  | number[]
  | string
  | string[]
  | { float: number }
  | { floats: number[] }
  | Tensor
  | GraphProto
  | GraphProto[];

/** The attribute `name` of a node, if set. */
export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

function wrongType(node: NodeProto, name: string, expected: string): QgrainError {
  return new QgrainError(
    'invalid-model',
    `attribute '${name}' of node '${node.name}' (${node.opType}) is not ${expected}; check the model against the operator's spec`,
    { node: node.name, value: name },
  );
}

/** An INT attribute as a number, or `fallback` when it is absent. */
export function readInt(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  if (!a) return fallback;
  if (a.type !== AttributeType.INT) throw wrongType(node, name, 'an INT');
  return int64ToNumber(a.i, `attribute '${name}' of node '${node.name}' (${node.opType})`);
}

/** A FLOAT attribute, or `fallback` when it is absent. */
export function readFloat(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  if (!a) return fallback;
  if (a.type !== AttributeType.FLOAT) throw wrongType(node, name, 'a FLOAT');
  return a.f;
}

/** An INTS attribute as numbers, or `fallback` when it is absent. */
export function readInts(node: NodeProto, name: string, fallback: number[]): number[] {
  const a = getAttribute(node, name);
  if (!a) return fallback;
  if (a.type !== AttributeType.INTS) throw wrongType(node, name, 'INTS');
  return a.ints.map((v) => int64ToNumber(v, `attribute '${name}' of node '${node.name}' (${node.opType})`));
}

/** A STRING attribute decoded as UTF-8, or `fallback` when it is absent. */
export function readString(node: NodeProto, name: string, fallback: string): string {
  const a = getAttribute(node, name);
  if (!a) return fallback;
  if (a.type !== AttributeType.STRING) throw wrongType(node, name, 'a STRING');
  return new TextDecoder().decode(a.s);
}

const utf8 = new TextEncoder();

function isGraphProto(value: unknown): value is GraphProto {
  return typeof value === 'object' && value !== null && Array.isArray((value as GraphProto).node);
}

/** A new AttributeProto from a plain value (see AttributeInit for how the type is chosen). */
export function makeAttribute(name: string, value: AttributeInit): AttributeProto {
  const fields: Record<string, unknown> = { name };
  if (typeof value === 'number') {
    if (Number.isInteger(value)) Object.assign(fields, { type: AttributeType.INT, i: value });
    else Object.assign(fields, { type: AttributeType.FLOAT, f: value });
  } else if (typeof value === 'string') {
    Object.assign(fields, { type: AttributeType.STRING, s: utf8.encode(value) });
  } else if (Array.isArray(value)) {
    if (value.length > 0 && isGraphProto(value[0])) {
      Object.assign(fields, { type: AttributeType.GRAPHS, graphs: value });
    } else if (value.length > 0 && typeof value[0] === 'string') {
      Object.assign(fields, {
        type: AttributeType.STRINGS,
        strings: (value as string[]).map((s) => utf8.encode(s)),
      });
    } else if ((value as number[]).every(Number.isInteger)) {
      Object.assign(fields, { type: AttributeType.INTS, ints: value });
    } else {
      Object.assign(fields, { type: AttributeType.FLOATS, floats: value });
    }
  } else if ('float' in value) {
    Object.assign(fields, { type: AttributeType.FLOAT, f: value.float });
  } else if ('floats' in value) {
    Object.assign(fields, { type: AttributeType.FLOATS, floats: value.floats });
  } else if (isGraphProto(value)) {
    Object.assign(fields, { type: AttributeType.GRAPH, g: value });
  } else {
    Object.assign(fields, { type: AttributeType.TENSOR, t: makeTensorProto('', value) });
  }
  return onnxTypes.attribute.create(fields) as unknown as AttributeProto;
}

/** Sets (adds or replaces) an attribute of a node. */
export function setAttribute(node: NodeProto, name: string, value: AttributeInit): void {
  const attribute = makeAttribute(name, value);
  const at = node.attribute.findIndex((a) => a.name === name);
  if (at >= 0) node.attribute[at] = attribute;
  else node.attribute.push(attribute);
}

/** The subgraphs a node holds (If branches, Loop/Scan bodies), with the attribute each comes from. */
export function nodeSubgraphs(node: NodeProto): { attribute: string; graph: GraphProto }[] {
  const out: { attribute: string; graph: GraphProto }[] = [];
  for (const a of node.attribute) {
    if (a.g && (a.type === AttributeType.GRAPH || a.type === AttributeType.UNDEFINED)) {
      out.push({ attribute: a.name, graph: a.g });
    }
    for (const g of a.graphs) out.push({ attribute: a.name, graph: g });
  }
  return out;
}

/** The tensors a node's attributes hold (Constant values, ConstantOfShape values...). */
export function nodeTensors(node: NodeProto): TensorProto[] {
  const out: TensorProto[] = [];
  for (const a of node.attribute) {
    if (a.t) out.push(a.t);
    out.push(...a.tensors);
  }
  return out;
}
