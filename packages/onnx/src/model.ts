import { QgrainError, shapeSize } from '@qgrain/tensor';
import protobuf from 'protobufjs';
import { nodeSubgraphs, nodeTensors } from './attributes.js';
import { checkModelBounds } from './bounds.js';
import { onnxByteLength } from './data-type.js';
import type { ExternalDataReader } from './external-data.js';
import { Graph } from './graph.js';
import type { GraphOwner } from './graph-owner.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from './proto-types.js';
import { int64ToNumber } from './proto-types.js';
import { onnxTypes } from './schema.js';
import { externalDataInfo, tensorDims, tensorStorage } from './tensor-proto.js';

/** The names the default operator set goes by. */
const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

/**
 * An ONNX model in memory: the decoded ModelProto (every field kept, unknown ones included),
 * a Graph view of its main graph, and the reader for tensors stored in external files.
 */
export class Model implements GraphOwner {
  /** The decoded ModelProto; what `writeModel` writes. */
  readonly proto: ModelProto;
  /** The main graph. */
  readonly graph: Graph;
  /** Reads tensors stored outside the model file; undefined for models parsed from bytes alone. */
  readonly externalData: ExternalDataReader | undefined;
  /** The file the model was read from, for messages. */
  readonly source: string;
  private usedNames: Set<string> | undefined;

  constructor(proto: ModelProto, options: { externalData?: ExternalDataReader; source?: string } = {}) {
    if (!proto.graph) {
      throw new QgrainError(
        'invalid-model',
        `${options.source ?? 'the model'} has no graph; it is not an ONNX model`,
      );
    }
    this.proto = proto;
    this.graph = new Graph(this, proto.graph);
    this.externalData = options.externalData;
    this.source = options.source ?? 'model';
  }

  /** Every graph of the model, the main graph first, then each subgraph after the graph holding it. */
  graphs(): Graph[] {
    const out: Graph[] = [];
    const visit = (g: Graph): void => {
      out.push(g);
      for (const node of g.nodes) for (const sub of g.subgraphs(node)) visit(sub);
    };
    visit(this.graph);
    return out;
  }

  /** The version of an operator set this model imports (default: the ONNX operators), if any. */
  opsetVersion(domain = ''): number | undefined {
    const entry = this.proto.opsetImport.find((o) => sameDomain(o.domain, domain));
    return entry ? int64ToNumber(entry.version, `opset version of '${domain}'`) : undefined;
  }

  /**
   * Raises an operator set import to at least `version` (adding the import when missing); never
   * lowers it. Returns the version in force afterwards. Raising is the caller's decision: the
   * operators already in the graph must mean the same at the new version.
   */
  raiseOpset(version: number, domain = ''): number {
    const entry = this.proto.opsetImport.find((o) => sameDomain(o.domain, domain));
    if (!entry) {
      this.proto.opsetImport.push(
        onnxTypes.operatorSetId.create({ domain, version }) as unknown as ModelProto['opsetImport'][number],
      );
      return version;
    }
    const current = int64ToNumber(entry.version);
    if (current >= version) return current;
    entry.version = version;
    return version;
  }

  /**
   * A value/node name used nowhere in the model (any graph, any function), derived from `base`.
   * The name is reserved, so two calls never return the same name.
   */
  uniqueName(base: string): string {
    const used = this.names();
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  }

  /** Records a name as used (called by the graph edits that add names). */
  claimName(name: string): void {
    this.usedNames?.add(name);
  }

  /** Records the names a new node brings (its own, its values', its subgraphs'). */
  claimNode(node: NodeProto): void {
    if (this.usedNames) addNodeNames(node, this.usedNames);
  }

  private names(): Set<string> {
    if (this.usedNames) return this.usedNames;
    const used = new Set<string>();
    addGraphNames(this.graph.proto, used);
    for (const f of this.proto.functions) for (const n of f.node) addNodeNames(n, used);
    this.usedNames = used;
    return used;
  }
}

function addGraphNames(g: GraphProto, used: Set<string>): void {
  used.add(g.name);
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) used.add(v.name);
  for (const t of g.initializer) used.add(t.name);
  for (const s of g.sparseInitializer) if (s.values) used.add(s.values.name);
  for (const n of g.node) addNodeNames(n, used);
}

function addNodeNames(n: NodeProto, used: Set<string>): void {
  used.add(n.name);
  for (const v of [...n.input, ...n.output]) used.add(v);
  for (const { graph } of nodeSubgraphs(n)) addGraphNames(graph, used);
}

/** Runs `work`, adding the model file to any QgrainError it throws. */
function withFile<T>(work: () => T, file: string): T {
  try {
    return work();
  } catch (error) {
    throw QgrainError.isInstance(error) ? QgrainError.withContext(error, { file }) : error;
  }
}

function sameDomain(a: string, b: string): boolean {
  return a === b || (DEFAULT_DOMAINS.has(a) && DEFAULT_DOMAINS.has(b));
}

/**
 * Every TensorProto of a model: initializers, attribute tensors (Constant values...), sparse
 * tensors' parts, in every graph, function and training graph. Used to check external data.
 */
export function allTensorProtos(proto: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  const visitNodes = (nodes: GraphProto['node']): void => {
    for (const n of nodes) {
      out.push(...nodeTensors(n));
      for (const a of n.attribute) {
        for (const s of [a.sparseTensor, ...a.sparseTensors]) {
          if (s?.values) out.push(s.values);
          if (s?.indices) out.push(s.indices);
        }
      }
      for (const { graph } of nodeSubgraphs(n)) visitGraph(graph);
    }
  };
  const visitGraph = (g: GraphProto): void => {
    out.push(...g.initializer);
    for (const s of g.sparseInitializer) {
      if (s.values) out.push(s.values);
      if (s.indices) out.push(s.indices);
    }
    visitNodes(g.node);
  };
  if (proto.graph) visitGraph(proto.graph);
  for (const f of proto.functions) visitNodes(f.node);
  for (const t of proto.trainingInfo) {
    if (t.initialization) visitGraph(t.initialization);
    if (t.algorithm) visitGraph(t.algorithm);
  }
  return out;
}

/** Options of `parseModel`. */
export interface ParseOptions {
  /** Reads tensors stored in external files (readModel passes the one beside the model file). */
  readonly externalData?: ExternalDataReader;
  /** The file name used in error messages. */
  readonly source?: string;
}

/**
 * Decodes a model from its bytes. Tensor bytes stay views into `bytes`, so keep it alive (and
 * unmodified) as long as the model is used. Works in any JavaScript runtime.
 */
export function parseModel(bytes: Uint8Array, options: ParseOptions = {}): Model {
  const source = options.source ?? 'the model bytes';
  let proto: ModelProto;
  try {
    const reader = protobuf.Reader.create(bytes);
    // Keep fields this schema does not know (a newer ONNX): they are written back unchanged.
    reader.discardUnknown = false;
    proto = onnxTypes.model.decode(reader) as unknown as ModelProto;
  } catch (error) {
    throw new QgrainError(
      'invalid-model',
      `${source} is not a valid ONNX model (${(error as Error).message}); the file may be truncated or not an .onnx file, re-download or re-export it`,
      { cause: error },
    );
  }
  if (!proto.graph || !Object.hasOwn(proto, 'irVersion') || proto.opsetImport.length === 0) {
    throw new QgrainError(
      'invalid-model',
      `${source} is not an ONNX model (no ir_version, graph or opset_import found); check that the file is an .onnx model`,
    );
  }
  // Sizes first: everything after this (external data checks, every pass) relies on them.
  checkModelBounds(proto, source);
  const model = new Model(proto, options);
  for (const tensor of allTensorProtos(proto)) {
    if (tensorStorage(tensor) !== 'external') continue;
    const info = withFile(() => externalDataInfo(tensor), source);
    if (!options.externalData) continue;
    const bytes = onnxByteLength(tensor.dataType, shapeSize(tensorDims(tensor)));
    withFile(() => options.externalData!.check(info, tensor.name, bytes), source);
  }
  return model;
}
