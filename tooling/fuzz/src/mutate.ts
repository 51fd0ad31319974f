import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  bigIntToInt64,
  onnxTypes,
} from '@qgrain/onnx';
import type { Rng } from './random.js';
import { type FieldSpan, fieldSpans, splice, varint } from './wire.js';

/** A seed model of the corpus: its bytes and, computed once, where its fields are. */
export interface Seed {
  readonly id: string;
  readonly bytes: Uint8Array;
  readonly spans: readonly FieldSpan[];
}

export function makeSeed(id: string, bytes: Uint8Array): Seed {
  return { id, bytes, spans: fieldSpans(bytes, onnxTypes.model) };
}

/** One mutant: its bytes and how it was made (for the reproducer's notes). */
export interface Mutant {
  readonly bytes: Uint8Array;
  readonly steps: string[];
}

// Values that sit on the edges the reader must check: zero, -1, 2^31 and 2^32 (int32 and uint32
// overflow), 2^53 + 1 (past exact JS numbers), 2^63 - 1 and -2^63 (int64 limits).
const EDGE_INTS: readonly bigint[] = [
  0n,
  1n,
  -1n,
  2n,
  255n,
  65536n,
  2n ** 31n - 1n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];

// Op types the passes look at (folds, fusions, quantization) and a few they must leave alone.
const OP_TYPES = [
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'BatchNormalization',
  'Mul',
  'Add',
  'Sub',
  'Div',
  'Clip',
  'HardSigmoid',
  'Relu',
  'Constant',
  'Identity',
  'Dropout',
  'Gather',
  'If',
  'Loop',
  'Reshape',
  'LSTM',
  'NoSuchOp',
];

const ATTRIBUTE_NAMES = [
  'group',
  'axis',
  'transA',
  'transB',
  'epsilon',
  'kernel_shape',
  'value',
  'min',
  'max',
];

// ---------------------------------------------------------------- byte level

function byteMutation(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; step: string } {
  const out = Uint8Array.from(bytes);
  const at = rng.int(out.length);
  switch (rng.int(6)) {
    case 0: {
      const flips = 1 + rng.int(8);
      for (let k = 0; k < flips; k++) {
        const i = rng.int(out.length);
        out[i]! ^= 1 << rng.int(8);
      }
      return { bytes: out, step: `flip ${flips} bits` };
    }
    case 1: {
      const value = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01]);
      out[at] = value;
      return { bytes: out, step: `byte ${at} = 0x${value.toString(16)}` };
    }
    case 2:
      return { bytes: bytes.subarray(0, at), step: `truncate at ${at}` };
    case 3: {
      const length = 1 + rng.int(64);
      return {
        bytes: Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + length)]),
        step: `delete ${length} bytes at ${at}`,
      };
    }
    case 4: {
      const length = 1 + rng.int(64);
      const chunk = bytes.subarray(at, at + length);
      const to = rng.int(bytes.length);
      const merged = new Uint8Array(bytes.length + chunk.length);
      merged.set(bytes.subarray(0, to));
      merged.set(chunk, to);
      merged.set(bytes.subarray(to), to + chunk.length);
      return { bytes: merged, step: `copy ${chunk.length} bytes from ${at} to ${to}` };
    }
    default: {
      const length = 1 + rng.int(16);
      for (let k = 0; k < length && at + k < out.length; k++) out[at + k] = rng.int(256);
      return { bytes: out, step: `randomise ${length} bytes at ${at}` };
    }
  }
}

// ---------------------------------------------------------------- wire level

function wireMutation(seed: Seed, bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; step: string } {
  // Spans describe the seed's bytes; later steps of a stack work on the mutant's own fields.
  const spans = bytes === seed.bytes ? seed.spans : fieldSpans(bytes, onnxTypes.model);
  if (spans.length === 0) return byteMutation(bytes, rng);
  const span = rng.pick(spans);
  const field = bytes.subarray(span.start, span.end);
  const where = `field ${span.fieldNo} (wire ${span.wireType}) at ${span.start}`;
  switch (rng.int(5)) {
    case 0:
      return {
        bytes: splice(bytes, span.start, span.end, new Uint8Array(0), span.parents),
        step: `delete ${where}`,
      };
    case 1: {
      const twice = new Uint8Array(field.length * 2);
      twice.set(field);
      twice.set(field, field.length);
      return { bytes: splice(bytes, span.start, span.end, twice, span.parents), step: `duplicate ${where}` };
    }
    case 2: {
      if (span.wireType === 0) {
        const value = rng.pick(EDGE_INTS);
        return {
          bytes: splice(bytes, span.valueStart, span.end, varint(value), span.parents),
          step: `varint of ${where} = ${value}`,
        };
      }
      if (span.wireType === 2 && span.dataStart !== undefined) {
        // The length lies about the payload; the enclosing messages stay consistent.
        const length = span.dataStart === span.end ? 1 : span.end - span.dataStart;
        const value = rng.pick([0n, BigInt(length - 1), BigInt(length + 1), 2n ** 31n, 2n ** 32n - 1n]);
        return {
          bytes: splice(bytes, span.valueStart, span.dataStart, varint(value), span.parents),
          step: `length of ${where} = ${value}`,
        };
      }
      return byteMutation(bytes, rng);
    }
    case 3: {
      const wireType = rng.pick([0, 1, 2, 5].filter((w) => w !== span.wireType));
      const tag = varint(BigInt((span.fieldNo << 3) | wireType));
      return {
        bytes: splice(bytes, span.start, span.valueStart, tag, span.parents),
        step: `wire type of ${where} = ${wireType}`,
      };
    }
    default: {
      // Same wire type, another field number: a value read as a different field of the message.
      const fieldNo = 1 + rng.int(25);
      const tag = varint(BigInt((fieldNo << 3) | span.wireType));
      return {
        bytes: splice(bytes, span.start, span.valueStart, tag, span.parents),
        step: `field number of ${where} = ${fieldNo}`,
      };
    }
  }
}

// ---------------------------------------------------------------- message level

function graphsOf(proto: ModelProto): GraphProto[] {
  const out: GraphProto[] = [];
  const visit = (g: GraphProto): void => {
    out.push(g);
    for (const n of g.node) for (const a of n.attribute) for (const s of [a.g, ...a.graphs]) if (s) visit(s);
  };
  if (proto.graph) visit(proto.graph);
  return out;
}

function tensorsOf(graphs: GraphProto[]): TensorProto[] {
  return graphs.flatMap((g) => [
    ...g.initializer,
    ...g.node.flatMap((n) => n.attribute.flatMap((a) => (a.t ? [a.t, ...a.tensors] : a.tensors))),
  ]);
}

function int64(value: bigint): number | ReturnType<typeof bigIntToInt64> {
  return value >= -(2n ** 31n) && value < 2n ** 31n ? Number(value) : bigIntToInt64(value);
}

function edgeInt64(rng: Rng): number | ReturnType<typeof bigIntToInt64> {
  return int64(rng.pick(EDGE_INTS));
}

function messageMutation(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; step: string } | undefined {
  let proto: ModelProto;
  try {
    proto = onnxTypes.model.decode(bytes) as unknown as ModelProto;
  } catch {
    return undefined;
  }
  const graphs = graphsOf(proto);
  const graph = rng.pick(graphs.length > 0 ? graphs : [undefined]);
  if (!graph) return undefined;
  const nodes = graph.node;
  const node: NodeProto | undefined = nodes.length > 0 ? rng.pick(nodes) : undefined;
  const tensors = tensorsOf(graphs);
  const tensor: TensorProto | undefined = tensors.length > 0 ? rng.pick(tensors) : undefined;
  let step: string;
  switch (rng.int(14)) {
    case 0:
    case 1: {
      if (!tensor) return undefined;
      const k = tensor.dims.length > 0 ? rng.int(tensor.dims.length) : 0;
      const value = rng.pick(EDGE_INTS);
      tensor.dims[k] = int64(value);
      step = `dims[${k}] of tensor '${tensor.name}' = ${value}`;
      break;
    }
    case 2: {
      if (!tensor) return undefined;
      if (rng.chance(0.5)) tensor.dims.push(rng.pick([1, 2, 3]));
      else tensor.dims.pop();
      step = `rank of tensor '${tensor.name}' changed`;
      break;
    }
    case 3: {
      if (!tensor) return undefined;
      tensor.dataType = rng.int(26);
      step = `data type of tensor '${tensor.name}' = ${tensor.dataType}`;
      break;
    }
    case 4: {
      if (!tensor) return undefined;
      // An absent raw_data reads as the field default, which need not be a Uint8Array.
      const raw = Uint8Array.from(tensor.rawData ?? []);
      const cut = rng.int(raw.length + 1);
      tensor.rawData = raw.subarray(0, cut);
      step = `raw_data of tensor '${tensor.name}' cut to ${cut} bytes`;
      break;
    }
    case 5: {
      if (!node || node.input.length === 0) return undefined;
      const k = rng.int(node.input.length);
      if (rng.chance(0.5)) node.input.splice(k, 1);
      else node.input[k] = rng.pick(['', 'no_such_value', node.output[0] ?? '']);
      step = `input ${k} of node '${node.name}' removed or renamed`;
      break;
    }
    case 6: {
      if (!node) return undefined;
      if (rng.chance(0.5)) node.output.splice(0, 1);
      else node.output.push(node.output[0] ?? 'dup');
      step = `outputs of node '${node.name}' changed`;
      break;
    }
    case 7: {
      if (!node) return undefined;
      node.opType = rng.pick(OP_TYPES);
      step = `node '${node.name}' op = ${node.opType}`;
      break;
    }
    case 8: {
      if (!node) return undefined;
      if (node.attribute.length > 0 && rng.chance(0.5)) {
        node.attribute.splice(rng.int(node.attribute.length), 1);
        step = `an attribute of node '${node.name}' removed`;
      } else {
        const a = onnxTypes.attribute.create({
          name: rng.pick(ATTRIBUTE_NAMES),
          type: rng.int(15),
          i: edgeInt64(rng),
          ints: [edgeInt64(rng), edgeInt64(rng)],
          f: rng.pick([Number.NaN, Number.POSITIVE_INFINITY, 0, -1, 1e30]),
        }) as unknown as AttributeProto;
        node.attribute = [...node.attribute.filter((x) => x.name !== a.name), a];
        step = `attribute '${a.name}' of node '${node.name}' forged`;
      }
      break;
    }
    case 9: {
      if (!node) return undefined;
      nodes.splice(nodes.indexOf(node), 1);
      step = `node '${node.name}' deleted`;
      break;
    }
    case 10: {
      if (!node) return undefined;
      nodes.splice(rng.int(nodes.length + 1), 0, node);
      step = `node '${node.name}' duplicated`;
      break;
    }
    case 11: {
      if (graph.initializer.length === 0) return undefined;
      const k = rng.int(graph.initializer.length);
      const t = graph.initializer[k]!;
      if (rng.chance(0.5)) graph.initializer.splice(k, 1);
      else graph.initializer.push(t);
      step = `initializer '${t.name}' deleted or duplicated`;
      break;
    }
    case 12: {
      if (!tensor) return undefined;
      tensor.dataLocation = 1;
      tensor.externalData = [
        { key: 'location', value: rng.pick(['.', '..', 'missing.bin', '/dev/zero', '../../etc/passwd', '']) },
        { key: rng.pick(['offset', 'length']), value: rng.pick(['0', '-1', '99999999999', 'x', '1e3']) },
      ];
      step = `tensor '${tensor.name}' moved to forged external data`;
      break;
    }
    default: {
      const entry = proto.opsetImport[0];
      if (rng.chance(0.5) && entry) {
        entry.version = edgeInt64(rng);
        step = 'opset version forged';
      } else {
        const lists = [graph.input, graph.output];
        const list = rng.pick(lists);
        if (list.length === 0) return undefined;
        list.splice(rng.int(list.length), 1);
        step = `a graph input or output of '${graph.name}' deleted`;
      }
    }
  }
  try {
    return { bytes: onnxTypes.model.encode(proto as never).finish(), step };
  } catch {
    return undefined;
  }
}

/** Input `rng` of a run: one to three mutations of one seed, each byte, wire or message level. */
export function mutate(seeds: readonly Seed[], rng: Rng): { seed: Seed; mutant: Mutant } {
  const seed = rng.pick(seeds);
  let bytes = seed.bytes;
  const steps: string[] = [];
  const count = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
  for (let k = 0; k < count; k++) {
    const kind = rng.int(10);
    let result: { bytes: Uint8Array; step: string } | undefined;
    if (kind < 3) result = byteMutation(bytes, rng);
    else if (kind < 6) result = wireMutation(seed, bytes, rng);
    else result = messageMutation(bytes, rng) ?? wireMutation(seed, bytes, rng);
    bytes = result.bytes;
    steps.push(result.step);
  }
  return { seed, mutant: { bytes, steps } };
}
