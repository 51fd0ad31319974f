// Dynamic quantization of LSTM layers through onnxruntime's com.microsoft.DynamicQuantizeLSTM:
// int8 W and R, stored transposed ([directions, inputs, 4 * hidden]), with one scale per gate row
// and direction, and the activations quantized by the kernel as it runs. It is onnxruntime's own
// operator, so the mode says so in its notes.
import {
  type QuantSpec,
  formatQuantSpec,
  qparamsFromData,
  quantizationSqnr,
  quantize,
} from '@qgrain/granularity';
import { type Graph, type Model, type NodeProto, isDefaultDomain, readInt } from '@qgrain/onnx';
import { type Backend, Tensor, shapeSize } from '@qgrain/tensor';
import { evaluateChain, traceConstant } from '../plan/constant-chain.js';
import { graphPath, initializerOwner, isWithin } from '../plan/graph-scope.js';
import type { Plan } from '../plan/plan.js';
import type { WeightReport } from '../report/quantize-report.js';
import { MS_DOMAIN, MS_DOMAIN_VERSION } from './matmul-nbits.js';

/** The kernel LSTM nodes become in dynamic mode. */
export const DYNAMIC_LSTM_OP = 'DynamicQuantizeLSTM';

/** LSTM attributes DynamicQuantizeLSTM shares (it has no `layout`: batch-major LSTMs stay float). */
const SHARED_ATTRIBUTES = new Set([
  'activation_alpha',
  'activation_beta',
  'activations',
  'clip',
  'direction',
  'hidden_size',
  'input_forget',
]);

/** A recurrent weight's float value and where its parts come from. */
interface WeightValue {
  readonly values: Float32Array;
  readonly dims: readonly number[];
  /** The graph to store the int8 copy in: one that every reader of its sources can see. */
  readonly store: Graph;
  /** The initializers it is made of (itself, or the sources of its chain). */
  readonly sources: readonly string[];
  readonly bytes: number;
  readonly chain: readonly { readonly graph: Graph; readonly node: NodeProto }[];
  readonly via?: readonly string[];
}

function weightValue(graph: Graph, name: string): WeightValue | undefined {
  const owner = initializerOwner(graph, name);
  if (owner) {
    const init = owner.initializer(name)!;
    if (init.dtype !== 'float32') return undefined;
    const values = init.toTensor().toFloat32();
    return {
      values,
      dims: init.dims,
      store: owner,
      sources: [name],
      bytes: init.byteLength ?? values.length * 4,
      chain: [],
    };
  }
  const chain = traceConstant(graph, name);
  // DynamicQuantizeLSTM computes in float32 only: a float16 LSTM stays as it is.
  if (!chain || chain.sources.some((s) => s.graph.initializer(s.name)!.dtype !== 'float32')) return undefined;
  const value = evaluateChain(graph, name, (s) =>
    Float64Array.from(s.graph.initializer(s.name)!.toTensor().toFloat32()),
  );
  // The innermost graph holding a source lies inside every other one, and every reader sees it.
  const store = chain.sources.map((s) => s.graph).reduce((inner, g) => (isWithin(g, inner) ? g : inner));
  const bytes = chain.sources.reduce((a, s) => {
    const init = s.graph.initializer(s.name)!;
    return a + (init.byteLength ?? shapeSize(init.dims) * 4);
  }, 0);
  return {
    values: Float32Array.from(value.data),
    dims: value.shape,
    store,
    sources: chain.sources.map((s) => s.name),
    bytes,
    chain: chain.nodes,
    via: [...new Set(chain.nodes.map((n) => n.node.opType))],
  };
}

/** True when the weight (or every source of its chain) is float16. */
function isFloat16Weight(graph: Graph, name: string): boolean {
  const owner = initializerOwner(graph, name);
  if (owner) return owner.initializer(name)!.dtype === 'float16';
  const chain = traceConstant(graph, name);
  return chain?.sources.every((s) => s.graph.initializer(s.name)!.dtype === 'float16') ?? false;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why an LSTM node cannot become DynamicQuantizeLSTM, or undefined when it can. */
function blocker(node: NodeProto): string | undefined {
  if (readInt(node, 'layout', 0) !== 0)
    return 'batch-major layout; DynamicQuantizeLSTM has no layout attribute';
  if (!node.input[1] || !node.input[2]) return 'no W or R input';
  return undefined;
}

/** What the LSTM rewrite did. */
export interface DynamicLstmOutcome {
  readonly reports: WeightReport[];
  readonly notes: string[];
  readonly excluded: string[];
}

/**
 * Rewrites each planned LSTM (any graph) as com.microsoft.DynamicQuantizeLSTM: W and R evaluated
 * (through their layout chains), quantized int8 symmetric per gate row and direction (or per
 * direction for a per-tensor scheme), transposed to the kernel's [directions, inputs, 4 * hidden]
 * and stored once per distinct value where every reader can see it; the layout nodes and float
 * initializers nothing reads any more are removed. float16 LSTMs stay float (the kernel is float).
 */
export function quantizeLstmsDynamically(
  model: Model,
  plan: Plan,
  spec: QuantSpec,
  backend: Backend,
): DynamicLstmOutcome {
  const planned = new Set(plan.weights.filter((w) => w.role.op === 'LSTM').flatMap((w) => w.nodes));
  const outcome: DynamicLstmOutcome = { reports: [], notes: [], excluded: [] };
  const stored: {
    value: WeightValue;
    names: string[];
    report: { nodes: string[] } & Omit<WeightReport, 'nodes'>;
  }[] = [];
  const chainNodes: { graph: Graph; node: NodeProto }[] = [];
  const rewritten: string[] = [];
  for (const graph of model.graphs()) {
    for (const node of [...graph.nodes]) {
      if (node.opType !== 'LSTM' || !isDefaultDomain(node) || !planned.has(node.name)) continue;
      const values = [node.input[1], node.input[2]].map((n) => (n ? weightValue(graph, n) : undefined));
      const half = [node.input[1], node.input[2]].some((n) => n && isFloat16Weight(graph, n));
      const why =
        blocker(node) ??
        (half ? 'float16 weights; DynamicQuantizeLSTM computes in float32 only' : undefined) ??
        (values.some((v) => v?.dims.length !== 3)
          ? 'W or R is not a constant float32 [directions, 4 * hidden, inputs]'
          : undefined);
      if (why) {
        outcome.notes.push(`LSTM '${node.name}': kept float (${why})`);
        outcome.excluded.push(node.name);
        continue;
      }
      const names = (values as WeightValue[]).map((value) => {
        const shared = stored.find(
          (s) => s.value.store.proto === value.store.proto && sameValues(s.value.values, value.values),
        );
        if (shared) {
          if (!shared.report.nodes.includes(node.name)) shared.report.nodes.push(node.name);
          return shared.names;
        }
        const entry = storeTransposed(value, spec, backend, node.name);
        stored.push(entry);
        return entry.names;
      });
      for (const v of values as WeightValue[]) chainNodes.push(...v.chain);
      const [w, r] = names as [string[], string[]];
      const inputs = [
        node.input[0]!,
        w[0]!,
        r[0]!,
        ...[3, 4, 5, 6, 7].map((i) => node.input[i] ?? ''),
        w[1]!,
        w[2]!,
        r[1]!,
        r[2]!,
      ];
      const at = graph.nodes.indexOf(node);
      graph.removeNode(node);
      const quantized = graph.addNode(
        {
          opType: DYNAMIC_LSTM_OP,
          domain: MS_DOMAIN,
          name: model.uniqueName(`${node.name}_quant`),
          inputs,
          outputs: [...node.output],
        },
        at,
      );
      quantized.attribute = node.attribute.filter((a) => SHARED_ATTRIBUTES.has(a.name));
      rewritten.push(node.name);
    }
  }
  removeDeadChains(chainNodes);
  for (const s of stored) {
    for (const source of s.value.sources) {
      const owner = initializerOwner(s.value.store, source);
      if (owner && !owner.isUsed(source)) owner.removeInitializer(source);
    }
  }
  if (rewritten.length > 0) {
    model.raiseOpset(MS_DOMAIN_VERSION, MS_DOMAIN);
    outcome.notes.push(
      `${rewritten.length} LSTM node(s) (e.g. '${rewritten[0]}') run as com.microsoft.${DYNAMIC_LSTM_OP}, onnxruntime's own operator (int8 W and R, activations quantized as it runs): runtimes without onnxruntime's contrib operators cannot load this model, and weight-only quantization suits those`,
    );
  }
  outcome.reports.push(...stored.map((s) => s.report));
  return outcome;
}

/** Quantizes one W or R value and adds its int8 [d, inputs, gates] copy, scales and zero points to its store graph. */
function storeTransposed(
  value: WeightValue,
  spec: QuantSpec,
  backend: Backend,
  node: string,
): { value: WeightValue; names: string[]; report: { nodes: string[] } & Omit<WeightReport, 'nodes'> } {
  const [directions, rows, inner] = value.dims as [number, number, number];
  const qp = qparamsFromData(value.values, [directions * rows, inner], spec, {
    backend,
    context: { channelAxis: 0 },
    name: value.sources[0],
  });
  const ints = quantize(value.values, qp, backend) as Int8Array;
  const transposed = new Int8Array(ints.length);
  const scales = new Float32Array(directions * rows);
  for (let d = 0; d < directions; d++) {
    for (let g = 0; g < rows; g++) {
      const row = d * rows + g;
      scales[row] = qp.scale[qp.scale.length === 1 ? 0 : row]!;
      for (let i = 0; i < inner; i++) transposed[(d * inner + i) * rows + g] = ints[row * inner + i]!;
    }
  }
  const model = value.store.model;
  const base = value.sources[0]!;
  const names = [
    model.uniqueName(`${base}_q`),
    model.uniqueName(`${base}_s`),
    model.uniqueName(`${base}_zp`),
  ];
  value.store.addInitializer(names[0]!, new Tensor('int8', [directions, inner, rows], transposed));
  value.store.addInitializer(names[1]!, new Tensor('float32', [directions, rows], scales));
  value.store.addInitializer(names[2]!, Tensor.zeros('int8', [directions, rows]));
  return {
    value,
    names,
    report: {
      name: base,
      nodes: [node],
      op: 'LSTM',
      shape: value.dims,
      depthwise: false,
      scheme: formatQuantSpec(spec),
      sqnrDb: quantizationSqnr(value.values, qp, backend),
      bytesBefore: value.bytes,
      bytesAfter: transposed.byteLength + scales.byteLength + directions * rows,
      graph: graphPath(value.store),
      kernel: DYNAMIC_LSTM_OP,
      ...(value.via ? { via: value.via } : {}),
    },
  };
}

/** Removes the layout nodes whose outputs nothing reads any more, and then their constant inputs. */
function removeDeadChains(nodes: readonly { graph: Graph; node: NodeProto }[]): void {
  let removed = true;
  const gone: { graph: Graph; node: NodeProto }[] = [];
  while (removed) {
    removed = false;
    for (const entry of nodes) {
      const { graph, node } = entry;
      if (gone.some((g) => g.node === node) || node.output.some((o) => o !== '' && graph.isUsed(o))) continue;
      graph.removeNode(node);
      gone.push(entry);
      removed = true;
    }
  }
  for (const { graph, node } of gone) {
    for (const input of node.input) {
      const owner = input ? initializerOwner(graph, input) : undefined;
      if (owner && !owner.isUsed(input)) owner.removeInitializer(input);
    }
  }
}
