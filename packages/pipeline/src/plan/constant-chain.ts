// Weights that reach their op through data-movement nodes. PyTorch exports an LSTM's W as its
// weight_ih cut into gates by Slice, put back in ONNX's gate order by Concat and given a
// direction axis by Unsqueeze, all on constants, every run. The weight worth quantizing is the
// initializer at the start of such a chain: quantizing it once keeps a weight read by two
// branches (silero's two LSTM bodies share one) stored once.
import { type Graph, type NodeProto, isDefaultDomain, readInt, readInts } from '@qgrain/onnx';
import { QgrainError, shapeSize } from '@qgrain/tensor';
import { initializerOwner, producerInScope } from './graph-scope.js';

/** Ops that only move, drop or repeat elements of constant inputs: a chain of them is followed. */
const LAYOUT_OPS = new Set(['Identity', 'Unsqueeze', 'Squeeze', 'Slice', 'Concat', 'Reshape', 'Transpose']);

/** Chains longer than this are not followed (PyTorch's LSTM export uses three steps). */
const MAX_CHAIN_DEPTH = 16;

/** An initializer a chain starts from, and the graph that holds it. */
export interface ChainSource {
  readonly name: string;
  readonly graph: Graph;
  readonly dims: readonly number[];
}

/** A value computed from initializers by layout ops alone. */
export interface ConstantChain {
  /** The float initializers whose elements the value is made of. */
  readonly sources: readonly ChainSource[];
  /** The layout nodes between them and the value, each with its graph. */
  readonly nodes: readonly { readonly graph: Graph; readonly node: NodeProto }[];
}

/** Values in a chain: every element type fits a double exactly (int64 shape parameters are small). */
interface Values {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** The data inputs of a layout op (the others are shape parameters that must be constant). */
function dataInputs(node: NodeProto): number[] {
  return node.opType === 'Concat' ? node.input.map((_, i) => i) : [0];
}

/**
 * The chain behind `name` as `graph` sees it, when the value is made of initializers by layout ops
 * alone; undefined when anything else (a graph input, a computing node) feeds it, or when `name` is
 * an initializer itself (there is no chain).
 */
export function traceConstant(graph: Graph, name: string): ConstantChain | undefined {
  if (initializerOwner(graph, name)) return undefined;
  const sources: ChainSource[] = [];
  const nodes: { graph: Graph; node: NodeProto }[] = [];
  const visit = (g: Graph, value: string, depth: number): boolean => {
    const owner = initializerOwner(g, value);
    if (owner) {
      const init = owner.initializer(value)!;
      if (init.dtype !== 'float32' && init.dtype !== 'float16') return false;
      if (!sources.some((s) => s.name === value))
        sources.push({ name: value, graph: owner, dims: init.dims });
      return true;
    }
    if (depth > MAX_CHAIN_DEPTH) return false;
    const found = producerInScope(g, value);
    if (!found || !LAYOUT_OPS.has(found.node.opType) || !isDefaultDomain(found.node)) return false;
    const data = dataInputs(found.node);
    for (let i = 0; i < found.node.input.length; i++) {
      const input = found.node.input[i]!;
      if (input === '') continue;
      if (data.includes(i)) {
        if (!visit(found.graph, input, depth + 1)) return false;
      } else if (!initializerOwner(found.graph, input)) {
        return false;
      }
    }
    if (!nodes.some((n) => n.node === found.node)) nodes.push(found);
    return true;
  };
  if (!visit(graph, name, 0) || nodes.length === 0 || sources.length === 0) return undefined;
  return { sources, nodes };
}

/**
 * The value of `name` as `graph` sees it, computed through the layout nodes of its chain, with
 * each source initializer's elements given by `leaf` (its float values, or anything else laid out
 * the same way, such as each element's row index).
 */
export function evaluateChain(
  graph: Graph,
  name: string,
  leaf: (source: ChainSource) => Float64Array,
): { shape: number[]; data: Float64Array } {
  const evaluate = (g: Graph, value: string): Values => {
    const owner = initializerOwner(g, value);
    if (owner) {
      const init = owner.initializer(value)!;
      const dims = init.dims;
      if (init.dtype === 'float32' || init.dtype === 'float16') {
        return { shape: dims, data: leaf({ name: value, graph: owner, dims }) };
      }
      return { shape: dims, data: Float64Array.from(init.toTensor().toFloat32()) };
    }
    const found = producerInScope(g, value);
    if (!found) throw new QgrainError('internal', `'${value}' is not a constant chain`);
    const { node } = found;
    const input = (i: number): Values | undefined =>
      node.input[i] ? checked(evaluate(found.graph, node.input[i]!)) : undefined;
    const ints = (i: number): number[] | undefined => {
      const v = input(i);
      return v ? Array.from(v.data) : undefined;
    };
    const x = input(0);
    try {
      if (!x) throw new LayoutError('has no data input');
      return checked(layoutOp(node, x, ints, (n) => evaluate(found.graph, n)));
    } catch (error) {
      if (!(error instanceof LayoutError)) throw error;
      throw new QgrainError(
        'invalid-model',
        `node '${node.name}' (${node.opType}) ${error.message}; check the model against the operator's spec`,
        { node: node.name },
      );
    }
  };
  const out = evaluate(graph, name);
  return { shape: [...out.shape], data: out.data };
}

/** Why a layout op's inputs make no sense (a forged shape parameter); the caller names the node. */
class LayoutError extends Error {}

/** A computed value whose shape agrees with its elements, so the next op may allocate from it. */
function checked(v: Values): Values {
  if (!v.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shapeSize(v.shape) !== v.data.length) {
    throw new LayoutError(`gives shape [${v.shape.join(', ')}] for ${v.data.length} elements`);
  }
  return v;
}

/** Axes (negative ones counted from the end) as indices below `rank`, each at most once. */
function axesWithin(axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normalizeAxis(a, rank));
  if (out.some((a) => !Number.isSafeInteger(a) || a < 0 || a >= rank) || new Set(out).size !== out.length) {
    throw new LayoutError(`has axes [${axes.join(', ')}] outside its rank ${rank} or repeated`);
  }
  return out;
}

/** One layout op on already evaluated inputs. */
function layoutOp(
  node: NodeProto,
  x: Values,
  ints: (i: number) => number[] | undefined,
  evaluate: (name: string) => Values,
): Values {
  // An input the op cannot do without (Reshape's shape, Slice's starts and ends) may be missing
  // from a broken model: refused here, naming which.
  const needed = (i: number, what: string): number[] => {
    const v = ints(i);
    if (!v) throw new LayoutError(`has no ${what} input`);
    return v;
  };
  switch (node.opType) {
    case 'Identity':
      return x;
    case 'Unsqueeze':
      return unsqueeze(x, ints(1) ?? readInts(node, 'axes', []));
    case 'Squeeze':
      return squeeze(x, ints(1) ?? readInts(node, 'axes', []));
    case 'Reshape':
      return reshape(x, needed(1, 'shape'), readInt(node, 'allowzero', 0) !== 0);
    case 'Transpose':
      return transpose(
        x,
        readInts(
          node,
          'perm',
          x.shape.map((_, i) => x.shape.length - 1 - i),
        ),
      );
    case 'Concat':
      return concat(
        node.input.filter((n) => n !== '').map((n) => checked(evaluate(n))),
        readInt(node, 'axis', 0),
      );
    case 'Slice':
      return node.input.length > 1
        ? slice(x, needed(1, 'starts'), needed(2, 'ends'), ints(3), ints(4))
        : slice(x, readInts(node, 'starts', []), readInts(node, 'ends', []), readInts(node, 'axes', []));
    default:
      throw new QgrainError('internal', `'${node.opType}' is not a layout op`);
  }
}

/**
 * The axis of `source` along which every element lands in one row of the chain's value (a row:
 * all elements that differ only along the value's last axis, the one a recurrent gate's dot
 * product sums over). Per-channel scales on that axis of the source are then per-row scales of
 * the value, whatever the chain slices, reorders or reshapes. Undefined when no axis does.
 */
export function rowAxisOfSource(graph: Graph, name: string, source: ChainSource): number | undefined {
  for (let axis = 0; axis < source.dims.length; axis++) {
    // A unit axis would pass trivially: one scale for the whole source is not per row.
    if (source.dims[axis] === 1) continue;
    const value = evaluateChain(graph, name, (s) =>
      s.name === source.name
        ? indexAlong(s.dims, axis)
        : new Float64Array(shapeSize(s.dims)).fill(Number.NaN),
    );
    const rowLength = value.shape[value.shape.length - 1] ?? 1;
    let rowsKeepOneIndex = true;
    for (let start = 0; start < value.data.length && rowsKeepOneIndex; start += rowLength) {
      const first = value.data[start]!;
      for (let k = 1; k < rowLength; k++) {
        const v = value.data[start + k]!;
        if (!(v === first || (Number.isNaN(v) && Number.isNaN(first)))) {
          rowsKeepOneIndex = false;
          break;
        }
      }
    }
    if (rowsKeepOneIndex) return axis;
  }
  return undefined;
}

function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

/** Each element's index along `axis` of a tensor of `dims`. */
function indexAlong(dims: readonly number[], axis: number): Float64Array {
  const out = new Float64Array(shapeSize(dims));
  const stride = strides(dims)[axis]!;
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(i / stride) % dims[axis]!;
  return out;
}

function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function unsqueeze(x: Values, axes: readonly number[]): Values {
  const rank = x.shape.length + axes.length;
  const at = new Set(axesWithin(axes, rank));
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : x.shape[k++]!);
  return { shape, data: x.data };
}

function squeeze(x: Values, axes: readonly number[]): Values {
  const drop = new Set(axesWithin(axes, x.shape.length));
  if ([...drop].some((a) => x.shape[a] !== 1)) throw new LayoutError(`squeezes an axis that is not 1 long`);
  const shape = x.shape.filter((d, i) => (drop.size > 0 ? !drop.has(i) : d !== 1));
  return { shape, data: x.data };
}

function reshape(x: Values, target: readonly number[], allowZero: boolean): Values {
  if (target.filter((d) => d === -1).length > 1) throw new LayoutError('has more than one -1 in its shape');
  const shape = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d));
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return { shape: shape.map((d) => (d === -1 ? x.data.length / known : d)), data: x.data };
}

function transpose(x: Values, perm: readonly number[]): Values {
  const rank = x.shape.length;
  if (perm.length !== rank || axesWithin(perm, rank).some((p, i) => p !== perm[i]))
    throw new LayoutError(`has perm [${perm.join(', ')}], not a permutation of its rank ${rank}`);
  const shape = perm.map((p) => x.shape[p]!);
  const inStrides = strides(x.shape);
  const outStrides = strides(shape);
  const data = new Float64Array(x.data.length);
  for (let o = 0; o < data.length; o++) {
    let source = 0;
    for (let d = 0; d < shape.length; d++) {
      source += (Math.floor(o / outStrides[d]!) % shape[d]!) * inStrides[perm[d]!]!;
    }
    data[o] = x.data[source]!;
  }
  return { shape, data };
}

function concat(parts: readonly Values[], axisAttribute: number): Values {
  const rank = parts[0]!.shape.length;
  const [axis] = axesWithin([axisAttribute], rank) as [number];
  const fits = (p: Values) =>
    p.shape.length === rank && p.shape.every((d, i) => i === axis || d === parts[0]!.shape[i]);
  if (!parts.every(fits)) throw new LayoutError('joins inputs whose shapes differ off its axis');
  const shape = [...parts[0]!.shape];
  shape[axis] = parts.reduce((a, p) => a + p.shape[axis]!, 0);
  const outer = shapeSize(shape.slice(0, axis));
  const data = new Float64Array(shapeSize(shape));
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = shapeSize(p.shape.slice(axis));
      data.set(p.data.subarray(o * block, (o + 1) * block), at);
      at += block;
    }
  }
  return { shape, data };
}

/** ONNX Slice: starts and ends clamped to each axis, negative ones counted from its end. */
function slice(
  x: Values,
  starts: readonly number[],
  ends: readonly number[],
  axesInput?: readonly number[],
  stepsInput?: readonly number[],
): Values {
  const rank = x.shape.length;
  const axes = axesWithin(axesInput && axesInput.length > 0 ? axesInput : starts.map((_, i) => i), rank);
  const steps = stepsInput ?? [];
  const integers = (v: readonly number[]) => v.every((n) => Number.isInteger(n));
  if (
    ends.length !== starts.length ||
    axes.length !== starts.length ||
    !integers(starts) ||
    !integers(ends) ||
    !integers(steps) ||
    steps.some((n) => n === 0)
  ) {
    throw new LayoutError('has starts, ends, axes or steps that do not agree (or a step of 0)');
  }
  const begin = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  const count = [...x.shape];
  axes.forEach((axis, i) => {
    const dim = x.shape[axis]!;
    const s = stepsInput?.[i] ?? 1;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let from = starts[i]! < 0 ? starts[i]! + dim : starts[i]!;
    let to = ends[i]! < 0 ? ends[i]! + dim : ends[i]!;
    if (s > 0) {
      from = clamp(from, 0, dim);
      to = clamp(to, 0, dim);
      count[axis] = Math.max(0, Math.ceil((to - from) / s));
    } else {
      from = clamp(from, 0, dim - 1);
      to = clamp(to, -1, dim - 1);
      count[axis] = Math.max(0, Math.ceil((from - to) / -s));
    }
    begin[axis] = from;
    step[axis] = s;
  });
  const inStrides = strides(x.shape);
  const outStrides = strides(count);
  const data = new Float64Array(shapeSize(count));
  for (let o = 0; o < data.length; o++) {
    let source = 0;
    for (let d = 0; d < rank; d++) {
      const k = Math.floor(o / outStrides[d]!) % count[d]!;
      source += (begin[d]! + k * step[d]!) * inStrides[d]!;
    }
    data[o] = x.data[source]!;
  }
  return { shape: count, data };
}
