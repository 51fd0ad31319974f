import { type QuantSpec, formatQuantSpec, parseQuantSpec, storageCost } from '@qgrain/granularity';
import {
  type Graph,
  type Model,
  isDefaultDomain,
  readFloat,
  QDQ_BLOCKED_OPSET,
  readInt,
  upgradeOpset,
} from '@qgrain/onnx';
import { type Backend, type DType, QgrainError, jsBackend, shapeSize } from '@qgrain/tensor';
import { borrowsModelBytes, inPlanOrder, openWeightPool } from '../parallel/weight-pool.js';
import type { WeightTaskResult } from '../parallel/weight-task.js';
import type { ClipMethod } from './clip-search.js';
import { emitQuantizedWeight } from '../emit/emit-qdq.js';
import { directReaders, findNode, graphPath, graphsByPath, initializerOwner } from '../plan/graph-scope.js';
import { skippedWeightNotes } from './skip-notes.js';
import { type MatMulNBitsWeight, emitMatMulNBits } from '../emit/matmul-nbits.js';
import { type WeightWrittenHook, newModelInitializers } from '../emit/written-initializers.js';
import { type Plan, planMatMulWeights, transpose2d } from '../plan/plan.js';
import type { QuantizeReport, WeightOnlyFormat, WeightReport } from '../report/quantize-report.js';
import { weightView } from '../plan/weight-analysis.js';
import { RECURRENT_GATES, type WeightRole } from '../plan/weight-roles.js';

/** Smallest block the weight-only path accepts: below 16 the scales cost more than they buy. */
export const MIN_WEIGHT_BLOCK = 16;
/** Largest block the weight-only path accepts: above 256, block-wise is per-channel in all but name. */
export const MAX_WEIGHT_BLOCK = 256;

/** Integer types for block weights: what DequantizeLinear-21 and MatMulNBits both store. */
const BLOCK_STORAGE = new Set(['int4', 'uint4', 'int8']);

const F16_NBITS_NOTE = "MatMulNBits keeps float32 scales (they take A's type)";

/** Default scheme of the weight-only mode: int4 blocks of 32 along the reduction axis, as GPTQ/AWQ/ORT's tools use. */
export const DEFAULT_WEIGHT_ONLY_SCHEME = 'int4/per-block:32';

/** Options of the weight-only block mode (see `QuantizeOptions`). */
export interface WeightOnlyOptions {
  /** A per-block scheme, e.g. `int4/per-block:32/f16-scale` (default DEFAULT_WEIGHT_ONLY_SCHEME). */
  readonly weights?: string;
  readonly format?: WeightOnlyFormat;
  /** Round-to-nearest on the full range (default) or a grid search of each block's clipping range. */
  readonly clip?: ClipMethod;
  /** Node names or op types that stay float. */
  readonly exclude?: readonly string[];
  readonly backend?: Backend;
  /** Called after each weight is written, with what it added (see `WeightWrittenHook`). */
  readonly onWeightWritten?: WeightWrittenHook;
  /** Threads to quantize weights on (default 1: this thread; see parallel/weight-pool.ts). */
  readonly threads?: number;
  /** Weights with fewer elements in all stay on the calling thread (default MIN_PARALLEL_ELEMENTS). */
  readonly minParallelElements?: number;
}

interface Candidate {
  readonly initializer: string;
  readonly nodes: string[];
  readonly role: WeightRole;
  /** Path of the graph holding the initializer. */
  readonly graph: string;
  readonly readerGraphs?: readonly string[];
  readonly via?: readonly string[];
}

/** The ops whose weights the block mode quantizes. */
const BLOCK_OPS: readonly string[] = ['MatMul', 'Gemm', 'Gather', ...Object.keys(RECURRENT_GATES)];

/**
 * MatMul/Gemm and recurrent weights from the shared planner, plus Gather tables (embeddings),
 * which it does not plan, in every graph.
 */
function candidates(
  model: Model,
  spec: string,
  exclude: readonly string[] | undefined,
): { list: Candidate[]; plan: Plan } {
  const plan = planMatMulWeights(model, spec, exclude);
  const out: Candidate[] = plan.weights.map((w) => ({
    initializer: w.initializer,
    nodes: [...w.nodes],
    role: w.role,
    graph: w.graph,
    ...(w.readerGraphs ? { readerGraphs: w.readerGraphs } : {}),
    ...(w.via ? { via: w.via } : {}),
  }));
  for (const graph of model.graphs()) {
    for (const node of graph.nodes) {
      if (node.opType !== 'Gather' || !isDefaultDomain(node)) continue;
      if (exclude && (exclude.includes(node.name) || exclude.includes('Gather'))) continue;
      const owner = initializerOwner(graph, node.input[0]!);
      const init = owner?.initializer(node.input[0]!);
      if (!owner || init?.dims.length !== 2 || !['float32', 'float16'].includes(init.dtype ?? '')) continue;
      // A table gathered along rows is read one row at a time: its blocks run along each row.
      if (readInt(node, 'axis', 0) !== 0 || graph.initializer(node.input[1]!)) continue;
      const existing = out.find((c) => c.initializer === init.name);
      if (existing) {
        existing.nodes.push(node.name);
        continue;
      }
      out.push({
        initializer: init.name,
        nodes: [node.name],
        graph: graphPath(owner),
        role: {
          op: 'Gather',
          input: 0,
          channelAxis: 0,
          blockView: init.dims,
          blockAxis: 1,
          depthwise: false,
          group: 1,
        },
      });
    }
  }
  return { list: out, plan };
}

function checkSpec(spec: QuantSpec, text: string): void {
  const g = spec.granularity;
  if (g.kind !== 'per-block' || g.size < MIN_WEIGHT_BLOCK || g.size > MAX_WEIGHT_BLOCK) {
    throw new QgrainError(
      'invalid-spec',
      `weight-only block quantization needs a per-block scheme with blocks of ${MIN_WEIGHT_BLOCK} to ${MAX_WEIGHT_BLOCK}, got '${text}'; e.g. int4/per-block:32`,
    );
  }
  const storage =
    spec.type.bits <= 4
      ? `${spec.type.signed ? '' : 'u'}int4`
      : `${spec.type.signed ? '' : 'u'}int${spec.type.bits}`;
  if (!BLOCK_STORAGE.has(storage) || spec.reduceRange) {
    throw new QgrainError(
      'invalid-spec',
      `weight-only block quantization stores int4, uint4 or int8, got '${text}'; use one of those types`,
    );
  }
}

/** Why a node cannot become MatMulNBits (it then keeps the QDQ form), or undefined when it can. */
function nbitsBlocker(
  model: Model,
  nodeName: string,
  spec: QuantSpec,
  dims: readonly number[],
  role: WeightRole,
  dtype: DType,
): string | undefined {
  const node = findNode(model, nodeName)?.node;
  if (!node) return 'node not found';
  if (RECURRENT_GATES[role.op] !== undefined)
    return `${role.op} reads its weights whole; MatMulNBits is a MatMul`;
  if (dtype !== 'float32') return `weight is ${dtype}; MatMulNBits scales take A's type, float32 here`;
  if (role.op === 'Gather') return 'Gather reads a table, not a MatMul weight';
  if (dims.length !== 2) return `weight has rank ${dims.length}; MatMulNBits takes a 2-D B`;
  const g = spec.granularity;
  if (
    g.kind !== 'per-block' ||
    (g.axis !== undefined && g.axis !== role.blockAxis && g.axis - 2 !== role.blockAxis)
  )
    return 'blocks do not run along the reduction axis';
  if ((g.size & (g.size - 1)) !== 0) return `block size ${g.size} is not a power of 2`;
  if (role.op === 'Gemm') {
    if (readInt(node, 'transA', 0) !== 0 || readFloat(node, 'alpha', 1) !== 1)
      return 'Gemm with transA or alpha';
    if (node.input[2] && readFloat(node, 'beta', 1) !== 1) return 'Gemm with beta';
  }
  return undefined;
}

/**
 * Weight-only block quantization of MatMul and Gemm weights (and Gather tables): each weight is
 * cut into blocks along its reduction axis, quantized by the Backend, and written either as an
 * opset-21 blocked DequantizeLinear feeding the float op (`qdq`) or as onnxruntime's
 * com.microsoft.MatMulNBits (`matmulnbits`; Gather tables, and nodes MatMulNBits cannot express,
 * keep the QDQ form and a note says why). Activations stay float: no calibration data is needed.
 */
export async function quantizeWeightBlocks(
  model: Model,
  options: WeightOnlyOptions = {},
): Promise<QuantizeReport> {
  const backend = options.backend ?? jsBackend;
  const text = options.weights ?? DEFAULT_WEIGHT_ONLY_SCHEME;
  const spec = parseQuantSpec(text);
  checkSpec(spec, text);
  const format = options.format ?? 'qdq';
  const graphs = graphsByPath(model);
  const from = model.opsetVersion() ?? QDQ_BLOCKED_OPSET;
  const notes: string[] = [];
  const { list: all, plan } = candidates(model, text, options.exclude);
  const list = all.filter((c) => {
    if (c.role.blockAxis >= 0) return true;
    notes.push(`${c.initializer}: kept float (its ${c.role.op} layout has no axis to cut blocks along)`);
    return false;
  });
  const plannedNodes = new Set(list.flatMap((c) => c.nodes));
  const excluded = model
    .graphs()
    .flatMap((graph) =>
      graph.nodes.filter(
        (n) =>
          ['MatMul', 'Gemm'].includes(n.opType) &&
          !plannedNodes.has(n.name) &&
          graph.initializer(n.input[1] ?? ''),
      ),
    )
    .map((n) => n.name);

  // Decide each weight's form first, from its dims and readers alone: the opset is raised only
  // when some weight stays QDQ. The values are read afterwards, one weight at a time.
  const forms: { readonly candidate: Candidate; readonly nbits: boolean }[] = [];
  for (const c of list) {
    const init = graphs.get(c.graph)!.initializer(c.initializer)!;
    let nbits = false;
    if (format === 'matmulnbits') {
      const blockers = c.nodes
        .map((n) => nbitsBlocker(model, n, spec, init.dims, c.role, init.dtype!))
        .filter((b) => b !== undefined);
      // Every reader must take MatMulNBits, or the float weight would have to stay for the others.
      const readers = directReaders(model, c.initializer).length;
      if (blockers.length === 0 && readers === c.nodes.length) nbits = true;
      else
        notes.push(
          `${c.initializer}: kept as blocked DequantizeLinear (${blockers[0] ?? 'read by other ops too'})`,
        );
    }
    forms.push({ candidate: c, nbits });
  }
  const needsQdq = forms.some((f) => !f.nbits);
  const upgrade = needsQdq ? upgradeOpset(model, QDQ_BLOCKED_OPSET) : { from, to: from };

  // Weights are read and quantized a few at a time (one without workers: only that weight's
  // values are held), and emitted and handed over one at a time, in plan order.
  const reports: WeightReport[] = [];
  const written = newModelInitializers(model);
  let elements = 0;
  const pool = openWeightPool({
    threads: options.threads ?? 1,
    ...(options.minParallelElements !== undefined ? { minElements: options.minParallelElements } : {}),
    backend,
    weights: forms.length,
    elements: forms.reduce((n, { candidate: c }) => {
      const init = graphs.get(c.graph)!.initializer(c.initializer)!;
      return n + shapeSize(init.dims);
    }, 0),
  });
  const start = async ({ candidate: c, nbits }: (typeof forms)[number]) => {
    const init = graphs.get(c.graph)!.initializer(c.initializer)!;
    let values = init.toTensor().toFloat32();
    let view = weightView(spec, init.dims, c.role);
    if (nbits && c.role.blockAxis === 1) {
      // Gemm with transB stores B as [N, K]; MatMulNBits wants blocks along K of a [K, N] view.
      values = transpose2d(values, init.dims[0]!, init.dims[1]!);
      view = { shape: [init.dims[1]!, init.dims[0]!], context: { channelAxis: 1, blockAxis: 0 } };
    }
    const task = {
      name: c.initializer,
      spec,
      shape: view.shape,
      context: view.context,
      form: nbits ? 'matmulnbits' : 'qdq',
      ...(options.clip ? { clip: options.clip } : {}),
    } as const;
    return pool.run(values, task, borrowsModelBytes(values, init));
  };
  const finish = ({ candidate: c, nbits }: (typeof forms)[number], result: WeightTaskResult) => {
    const owner = graphs.get(c.graph)!;
    const init = owner.initializer(c.initializer)!;
    const dtype: DType = init.dtype!;
    const count = shapeSize(init.dims);
    const view = weightView(spec, init.dims, c.role);
    const { qp, sqnrDb, rtnSqnrDb } = result;
    const bytesBefore = init.byteLength ?? count * 4;
    let bytesAfter: number;
    if (nbits) {
      const packed = result.packed!;
      bytesAfter = packed.bytes;
      emitNBitsReaders(model, owner, c, packed);
      if (spec.scaleType === 'float16' && !notes.some((n) => n.startsWith(F16_NBITS_NOTE)))
        notes.push(`${F16_NBITS_NOTE}, not float16; their bits per weight count float32 scales`);
    } else {
      const reshaped =
        view.shape.length !== init.dims.length || view.shape.some((d, i) => d !== init.dims[i]);
      emitQuantizedWeight(owner, c.initializer, result.stored!, qp, false, {
        dtype: dtype === 'float16' ? 'float16' : 'float32',
        ...(reshaped ? { reshapeTo: init.dims } : {}),
      });
      bytesAfter = storageCost(view.shape, spec, view.context).bytes;
    }
    elements += count;
    reports.push({
      name: c.initializer,
      nodes: c.nodes,
      op: c.role.op,
      shape: init.dims,
      depthwise: false,
      scheme: formatQuantSpec(spec),
      sqnrDb,
      rtnSqnrDb,
      bytesBefore,
      bytesAfter,
      bitsPerWeight: (bytesAfter * 8) / count,
      form: nbits ? 'matmulnbits' : 'qdq',
      graph: c.graph,
      ...(c.readerGraphs ? { readerGraphs: c.readerGraphs } : {}),
      ...(c.via ? { via: c.via } : {}),
    });
    options.onWeightWritten?.(written());
  };
  try {
    await inPlanOrder(forms, pool, start, finish);
  } finally {
    await pool.close();
  }
  notes.push(...skippedWeightNotes(model, 'weight-only', BLOCK_OPS, plan.skipped, reports.length));
  const bytesBefore = reports.reduce((a, r) => a + r.bytesBefore, 0);
  const bytesAfter = reports.reduce((a, r) => a + r.bytesAfter, 0);
  return {
    mode: 'weight-only',
    opset: { from: upgrade.from, to: upgrade.to },
    weights: reports,
    activations: [],
    biases: [],
    nodeInputs: {},
    excluded,
    calibration: undefined,
    notes,
    totals: {
      elements,
      bytesBefore,
      bytesAfter,
      bitsPerWeight: elements > 0 ? (bytesAfter * 8) / elements : 0,
    },
  };
}

/** Rewrites every reader of a weight as MatMulNBits over one shared packed copy (kept in `owner`). */
function emitNBitsReaders(
  model: Model,
  owner: Graph,
  w: { initializer: string; nodes: readonly string[]; role: WeightRole },
  packed: MatMulNBitsWeight,
): void {
  let shared: string[] | undefined;
  for (const nodeName of w.nodes) {
    const { graph, node } = findNode(model, nodeName)!;
    const activation = node.input[0]!;
    const output = node.output[0]!;
    if (w.role.op === 'Gemm' && node.input[2]) {
      // Gemm's C (beta 1, checked) is added after the product, which is all MatMulNBits computes.
      const product = graph.model.uniqueName(`${output}_product`);
      const bias = node.input[2];
      const at = graph.nodes.indexOf(node);
      shared = emitMatMulNBits(graph, node, activation, product, w.initializer, packed, shared, owner);
      graph.addNode(
        {
          opType: 'Add',
          name: graph.model.uniqueName(`${nodeName}_bias`),
          inputs: [product, bias],
          outputs: [output],
        },
        at + 1,
      );
    } else {
      shared = emitMatMulNBits(graph, node, activation, output, w.initializer, packed, shared, owner);
    }
  }
  if (!owner.isUsed(w.initializer)) owner.removeInitializer(w.initializer);
}
