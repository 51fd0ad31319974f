import {
  type Graph,
  type NodeProto,
  clipBounds,
  isDefaultDomain,
  readFloat,
  spelledHardSwish,
} from '@qgrain/onnx';

/**
 * The interval outside which a tensor's readers cannot tell its values apart, and the ops that
 * make it so. An absent end is open.
 */
export interface Saturation {
  readonly min?: number;
  readonly max?: number;
  readonly by: string;
}

interface Interval {
  readonly min: number;
  readonly max: number;
  readonly by: string;
}

/** HardSwish(x) = x * clip(x + 3, 0, 6) / 6 is 0 for every x <= -3. */
const HARD_SWISH_FLOOR = -3;

/**
 * Where HardSigmoid, max(0, min(1, alpha * x + beta)), saturates: 0 below -beta / alpha, 1 above
 * (1 - beta) / alpha. Undefined for a non-positive alpha.
 */
function hardSigmoidEnds(node: NodeProto): { min: number; max: number } | undefined {
  const alpha = readFloat(node, 'alpha', 0.2);
  const beta = readFloat(node, 'beta', 0.5);
  return alpha > 0 ? { min: -beta / alpha, max: (1 - beta) / alpha } : undefined;
}

/**
 * Readers of x that together compute a HardSwish-like x * gate(x) whose gate is 0 below some
 * value, so the product is 0 there too: x * HardSigmoid(x) (the Mul and the HardSigmoid, whose
 * output only the Mul reads) or HardSwish spelled out as Add/Clip/Mul/Div. Gives the readers it
 * covers and where the product saturates.
 */
function gatedProducts(
  graph: Graph,
  x: string,
  readers: readonly NodeProto[],
): Array<Interval & { nodes: NodeProto[] }> {
  const out: Array<Interval & { nodes: NodeProto[] }> = [];
  for (const reader of readers) {
    if (reader.opType === 'HardSigmoid' && reader.input[0] === x) {
      const ends = hardSigmoidEnds(reader);
      const gate = reader.output[0]!;
      const mul = graph.soleConsumer(gate);
      if (!ends || mul?.opType !== 'Mul' || !readers.includes(mul)) continue;
      if (mul.input.length !== 2 || !mul.input.includes(x) || !mul.input.includes(gate)) continue;
      out.push({
        min: ends.min,
        max: Number.POSITIVE_INFINITY,
        by: 'HardSwish (x * HardSigmoid(x))',
        nodes: [reader, mul],
      });
    } else if (reader.opType === 'Add') {
      const spelled = spelledHardSwish(graph, reader);
      if (spelled?.x !== x || !readers.includes(spelled.mul)) continue;
      out.push({
        min: HARD_SWISH_FLOOR,
        max: Number.POSITIVE_INFINITY,
        by: 'HardSwish (Add/Clip/Mul/Div)',
        nodes: [reader, spelled.mul],
      });
    }
  }
  return out;
}

/** The interval one reader saturates outside of, or undefined when it reads every value. */
function readerInterval(graph: Graph, x: string, reader: NodeProto): Interval | undefined {
  if (!isDefaultDomain(reader)) return undefined;
  if (reader.input[0] !== x || reader.input.slice(1).includes(x)) return undefined;
  switch (reader.opType) {
    case 'Relu':
      return { min: 0, max: Number.POSITIVE_INFINITY, by: 'Relu' };
    case 'HardSwish':
      return { min: HARD_SWISH_FLOOR, max: Number.POSITIVE_INFINITY, by: 'HardSwish' };
    case 'HardSigmoid': {
      const ends = hardSigmoidEnds(reader);
      return ends && { ...ends, by: 'HardSigmoid' };
    }
    case 'Clip': {
      const ends = clipBounds(graph, reader);
      return ends && ends.min <= ends.max ? { ...ends, by: 'Clip' } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Where every reader of `tensor` saturates: a value below `min` (above `max`) gives each of them
 * the same result as `min` (`max`) itself, so a quantization range need not reach beyond. The
 * readers understood are Relu, HardSwish (the op, x * HardSigmoid(x), or spelled out as
 * Add/Clip/Mul/Div), HardSigmoid and Clip with constant ends; with several readers the interval
 * covers them all. Undefined when some reader uses every value (a Conv, an Add, a graph output)
 * or nothing saturates.
 */
export function readerSaturation(graph: Graph, tensor: string): Saturation | undefined {
  if (graph.isOutput(tensor)) return undefined;
  const readers = graph.consumers(tensor);
  if (readers.length === 0) return undefined;
  const products = gatedProducts(graph, tensor, readers);
  const covered = new Set(products.flatMap((p) => p.nodes));
  const intervals: Interval[] = [...products];
  for (const reader of readers) {
    if (covered.has(reader)) continue;
    const interval = readerInterval(graph, tensor, reader);
    if (!interval) return undefined;
    intervals.push(interval);
  }
  const min = Math.min(...intervals.map((i) => i.min));
  const max = Math.max(...intervals.map((i) => i.max));
  if (min === Number.NEGATIVE_INFINITY && max === Number.POSITIVE_INFINITY) return undefined;
  return {
    ...(min === Number.NEGATIVE_INFINITY ? {} : { min }),
    ...(max === Number.POSITIVE_INFINITY ? {} : { max }),
    by: [...new Set(intervals.map((i) => i.by))].join(', '),
  };
}
