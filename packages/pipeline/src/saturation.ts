import { type Graph, type NodeProto, readFloat } from '@qgrain/onnx';

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

function scalarValue(graph: Graph, name: string | undefined): number | undefined {
  if (!name) return undefined;
  const init = graph.initializer(name);
  if (!init || init.dims.some((d) => d !== 1) || (init.dtype !== 'float32' && init.dtype !== 'float64'))
    return undefined;
  return Number((init.toTensor().data as ArrayLike<number>)[0]);
}

/** A Clip's constant ends (inputs from opset 11, attributes before); undefined when not constant. */
function clipEnds(graph: Graph, clip: NodeProto): { min: number; max: number } | undefined {
  if (clip.input.length > 1) {
    const [lo, hi] = [clip.input[1], clip.input[2]];
    const min = lo ? scalarValue(graph, lo) : Number.NEGATIVE_INFINITY;
    const max = hi ? scalarValue(graph, hi) : Number.POSITIVE_INFINITY;
    return min === undefined || max === undefined ? undefined : { min, max };
  }
  const min = readFloat(clip, 'min', Number.NEGATIVE_INFINITY);
  const max = readFloat(clip, 'max', Number.POSITIVE_INFINITY);
  return { min, max };
}

/**
 * Whether the readers of x are HardSwish as exporters spell it out: Add(x, 3) -> Clip(0, 6) and
 * Mul(x, that clip), and nothing else (the Mul is then divided by 6, which does not matter here).
 */
function spelledHardSwish(graph: Graph, x: string, readers: readonly NodeProto[]): boolean {
  if (readers.length !== 2) return false;
  const add = readers.find((n) => n.opType === 'Add');
  const mul = readers.find((n) => n.opType === 'Mul');
  if (!add || !mul || add.input.length !== 2) return false;
  if (scalarValue(graph, add.input[add.input[0] === x ? 1 : 0]) !== 3) return false;
  const added = add.output[0]!;
  if (graph.isOutput(added)) return false;
  const clipReaders = graph.consumers(added);
  const clip = clipReaders[0];
  if (clipReaders.length !== 1 || clip?.opType !== 'Clip') return false;
  const ends = clipEnds(graph, clip);
  if (ends?.min !== 0 || ends.max !== 6) return false;
  const gate = clip.output[0]!;
  return mul.input.length === 2 && mul.input.includes(x) && mul.input.includes(gate);
}

/** The interval one reader saturates outside of, or undefined when it reads every value. */
function readerInterval(graph: Graph, x: string, reader: NodeProto): Interval | undefined {
  if (reader.domain !== '' && reader.domain !== 'ai.onnx') return undefined;
  if (reader.input[0] !== x || reader.input.slice(1).includes(x)) return undefined;
  switch (reader.opType) {
    case 'Relu':
      return { min: 0, max: Number.POSITIVE_INFINITY, by: 'Relu' };
    case 'HardSwish':
      return { min: HARD_SWISH_FLOOR, max: Number.POSITIVE_INFINITY, by: 'HardSwish' };
    case 'HardSigmoid': {
      // max(0, min(1, alpha * x + beta)): 0 below -beta / alpha, 1 above (1 - beta) / alpha.
      const alpha = readFloat(reader, 'alpha', 0.2);
      const beta = readFloat(reader, 'beta', 0.5);
      if (!(alpha > 0)) return undefined;
      return { min: -beta / alpha, max: (1 - beta) / alpha, by: 'HardSigmoid' };
    }
    case 'Clip': {
      const ends = clipEnds(graph, reader);
      return ends && ends.min <= ends.max ? { ...ends, by: 'Clip' } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Where every reader of `tensor` saturates: a value below `min` (above `max`) gives each of them
 * the same result as `min` (`max`) itself, so a quantization range need not reach beyond. The
 * readers understood are Relu, HardSwish (the op, or spelled out as Add/Clip/Mul), HardSigmoid
 * and Clip with constant ends; with several readers the interval covers them all. Undefined
 * when some reader uses every value (a Conv, an Add, a graph output) or nothing saturates.
 */
export function readerSaturation(graph: Graph, tensor: string): Saturation | undefined {
  if (graph.isOutput(tensor)) return undefined;
  const readers = graph.consumers(tensor);
  if (readers.length === 0) return undefined;
  let intervals: Interval[];
  if (spelledHardSwish(graph, tensor, readers)) {
    intervals = [{ min: HARD_SWISH_FLOOR, max: Number.POSITIVE_INFINITY, by: 'HardSwish (Add/Clip/Mul)' }];
  } else {
    intervals = [];
    for (const reader of readers) {
      const interval = readerInterval(graph, tensor, reader);
      if (!interval) return undefined;
      intervals.push(interval);
    }
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
