import { QgrainError, type Tensor } from '@qgrain/tensor';
import { type AttributeInit, makeAttribute, nodeSubgraphs } from './attributes.js';
import { Initializer } from './initializer.js';
import type { GraphOwner } from './graph-owner.js';
import type { GraphProto, NodeProto } from './proto-types.js';
import { onnxTypes } from './schema.js';
import { makeTensorProto } from './tensor-proto.js';

/** What a new node is made from; `name` defaults to a unique name derived from the op type. */
export interface NodeInit {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, AttributeInit>>;
}

/**
 * One graph of a model (the main graph, or an If/Loop/Scan body) with the queries and edits that
 * rewriting passes need. The graph is a view over its GraphProto: edits change the proto, and
 * queries look at the proto as it is now, so there is no index to keep in sync.
 */
export class Graph {
  /** The model this graph belongs to. */
  readonly model: GraphOwner;
  /** The GraphProto this view edits. */
  readonly proto: GraphProto;
  /** The enclosing graph of a subgraph; undefined for the main graph. */
  readonly parent: Graph | undefined;
  /** The node that holds this subgraph (If, Loop, Scan...); undefined for the main graph. */
  readonly owner: NodeProto | undefined;

  constructor(model: GraphOwner, proto: GraphProto, parent?: Graph, owner?: NodeProto) {
    this.model = model;
    this.proto = proto;
    this.parent = parent;
    this.owner = owner;
  }

  /** The nodes in file order (a live array: edits through this class keep it consistent). */
  get nodes(): NodeProto[] {
    return this.proto.node;
  }

  /** Names of the graph inputs. */
  inputNames(): string[] {
    return this.proto.input.map((v) => v.name);
  }

  /** Names of the graph outputs. */
  outputNames(): string[] {
    return this.proto.output.map((v) => v.name);
  }

  /** True when `name` is one of the graph's outputs. */
  isOutput(name: string): boolean {
    return this.proto.output.some((v) => v.name === name);
  }

  /** True when `name` is one of the graph's inputs. */
  isInput(name: string): boolean {
    return this.proto.input.some((v) => v.name === name);
  }

  /** The initializers of this graph (not of enclosing graphs). */
  initializers(): Initializer[] {
    return this.proto.initializer.map((t) => new Initializer(t, this.model.externalData));
  }

  /**
   * The initializer a value name refers to, here or, for a subgraph, in an enclosing graph
   * (outer-scope reference) unless this graph defines the name itself.
   */
  initializer(name: string): Initializer | undefined {
    const own = this.proto.initializer.find((t) => t.name === name);
    if (own) return new Initializer(own, this.model.externalData);
    if (!this.parent || this.defines(name)) return undefined;
    return this.parent.initializer(name);
  }

  /** Adds an initializer holding `tensor` (its memory is referenced, not copied). */
  addInitializer(name: string, tensor: Tensor): Initializer {
    if (this.proto.initializer.some((t) => t.name === name)) {
      throw new QgrainError(
        'invalid-argument',
        `graph '${this.proto.name}' already has an initializer '${name}'; pick a name with model.uniqueName()`,
      );
    }
    const proto = makeTensorProto(name, tensor);
    this.proto.initializer.push(proto);
    this.model.claimName(name);
    return new Initializer(proto, this.model.externalData);
  }

  /** Removes the initializer `name` from this graph; returns whether there was one. */
  removeInitializer(name: string): boolean {
    const at = this.proto.initializer.findIndex((t) => t.name === name);
    if (at < 0) return false;
    this.proto.initializer.splice(at, 1);
    return true;
  }

  /** Removes each of `names` that is an initializer of this graph nothing reads any more. */
  removeUnusedInitializers(names: Iterable<string>): void {
    for (const name of names) if (name && !this.isUsed(name)) this.removeInitializer(name);
  }

  /** True when this graph itself defines `name` (input, initializer or node output). */
  defines(name: string): boolean {
    return (
      this.isInput(name) ||
      this.proto.initializer.some((t) => t.name === name) ||
      this.proto.sparseInitializer.some((s) => s.values?.name === name) ||
      this.proto.node.some((n) => n.output.includes(name))
    );
  }

  /** The node that outputs `name`, if a node of this graph does. */
  producer(name: string): NodeProto | undefined {
    return this.proto.node.find((n) => n.output.includes(name));
  }

  /**
   * The nodes of this graph that read `name`: directly as an input, or through a subgraph that
   * refers to it from the outer scope (the If/Loop node then counts as the reader).
   */
  consumers(name: string): NodeProto[] {
    return this.proto.node.filter(
      (n) => n.input.includes(name) || this.subgraphs(n).some((g) => g.outerScopeReferences().has(name)),
    );
  }

  /** The one node that reads `name`, when nothing else does and it is not a graph output. */
  soleConsumer(name: string): NodeProto | undefined {
    if (this.isOutput(name)) return undefined;
    const readers = this.consumers(name);
    return readers.length === 1 ? readers[0] : undefined;
  }

  /** True when anything reads `name`: a node (or its subgraphs) or the graph outputs. */
  isUsed(name: string): boolean {
    return this.isOutput(name) || this.consumers(name).length > 0;
  }

  /** The subgraphs a node holds, as Graph views whose parent is this graph. */
  subgraphs(node: NodeProto): Graph[] {
    return nodeSubgraphs(node).map(({ graph }) => new Graph(this.model, graph, this, node));
  }

  /** Names this graph (and its own subgraphs) read but do not define: its outer-scope references. */
  outerScopeReferences(): Set<string> {
    const defined = new Set<string>([
      ...this.inputNames(),
      ...this.proto.initializer.map((t) => t.name),
      ...this.proto.sparseInitializer.map((s) => s.values?.name ?? ''),
      ...this.proto.node.flatMap((n) => n.output),
    ]);
    const out = new Set<string>();
    const consider = (name: string): void => {
      if (name !== '' && !defined.has(name)) out.add(name);
    };
    for (const node of this.proto.node) {
      for (const name of node.input) consider(name);
      for (const sub of this.subgraphs(node)) for (const name of sub.outerScopeReferences()) consider(name);
    }
    for (const name of this.outputNames()) consider(name);
    return out;
  }

  /**
   * The nodes in an order where every node comes after the producers of what it reads (its
   * subgraphs' outer-scope references included). Ties keep file order, so the result is stable.
   */
  topologicalOrder(): NodeProto[] {
    const nodes = this.proto.node;
    const producerIndex = new Map<string, number>();
    nodes.forEach((n, i) => {
      for (const o of n.output) if (o !== '') producerIndex.set(o, i);
    });
    const dependents: number[][] = nodes.map(() => []);
    const pending = new Int32Array(nodes.length);
    nodes.forEach((n, i) => {
      const reads = new Set(n.input);
      for (const sub of this.subgraphs(n)) for (const name of sub.outerScopeReferences()) reads.add(name);
      for (const name of reads) {
        const p = producerIndex.get(name);
        if (p === undefined || p === i) continue;
        dependents[p]!.push(i);
        pending[i]!++;
      }
    });
    // A min-heap would be faster on huge graphs; a sorted ready list is enough for real models.
    const ready: number[] = [];
    nodes.forEach((_, i) => {
      if (pending[i] === 0) ready.push(i);
    });
    const order: NodeProto[] = [];
    while (ready.length > 0) {
      const i = ready.shift()!;
      order.push(nodes[i]!);
      for (const d of dependents[i]!) {
        if (--pending[d]! === 0) {
          let at = ready.length;
          while (at > 0 && ready[at - 1]! > d) at--;
          ready.splice(at, 0, d);
        }
      }
    }
    if (order.length !== nodes.length) {
      const stuck = nodes.find((_, i) => pending[i]! > 0)!;
      throw new QgrainError(
        'invalid-model',
        `graph '${this.proto.name}' has a cycle through node '${stuck.name}' (${stuck.opType}); ONNX graphs must be acyclic`,
        { file: this.model.source, node: stuck.name },
      );
    }
    return order;
  }

  /** Creates a node and inserts it at `index` (default: the end). */
  addNode(init: NodeInit, index = this.proto.node.length): NodeProto {
    const node = onnxTypes.node.create({
      name: init.name ?? this.model.uniqueName(init.opType),
      opType: init.opType,
      input: [...init.inputs],
      output: [...init.outputs],
      attribute: Object.entries(init.attributes ?? {}).map(([name, value]) => makeAttribute(name, value)),
      ...(init.domain ? { domain: init.domain } : {}),
    }) as unknown as NodeProto;
    this.proto.node.splice(index, 0, node);
    this.model.claimNode(node);
    return node;
  }

  /** Removes a node of this graph. Values it produced are left for the caller to rewire. */
  removeNode(node: NodeProto): void {
    const at = this.proto.node.indexOf(node);
    if (at < 0) {
      throw new QgrainError(
        'internal',
        `node '${node.name}' (${node.opType}) is not in graph '${this.proto.name}'`,
        { node: node.name },
      );
    }
    this.proto.node.splice(at, 1);
  }

  /**
   * Makes every reader of `from` read `to` instead: node inputs here and in subgraphs that do not
   * define `from` themselves. The main graph's outputs are names the outside world sees, so they
   * are left alone; a subgraph's outputs are positional (If/Loop/Scan results), so they follow.
   * Returns the number of references changed.
   */
  replaceUses(from: string, to: string): number {
    let changed = 0;
    if (this.parent) {
      for (const output of this.proto.output) {
        if (output.name === from) {
          output.name = to;
          changed++;
        }
      }
    }
    for (const node of this.proto.node) {
      for (let k = 0; k < node.input.length; k++) {
        if (node.input[k] === from) {
          node.input[k] = to;
          changed++;
        }
      }
      for (const sub of this.subgraphs(node)) {
        if (!sub.defines(from)) changed += sub.replaceUses(from, to);
      }
    }
    return changed;
  }
}
