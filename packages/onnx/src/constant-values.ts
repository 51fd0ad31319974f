import { readFloat } from './attributes.js';
import type { Graph } from './graph.js';
import type { NodeProto } from './proto-types.js';

/** The value of a one-element float initializer (any shape of ones), or undefined. */
export function scalarConstant(graph: Graph, name: string | undefined): number | undefined {
  if (!name || graph.isInput(name)) return undefined;
  const init = graph.initializer(name);
  if (!init || init.dims.some((d) => d !== 1) || (init.dtype !== 'float32' && init.dtype !== 'float64'))
    return undefined;
  return Number((init.toTensor().data as ArrayLike<number>)[0]);
}

/**
 * A Clip's ends when they are constants (inputs from opset 11, attributes before); an absent end
 * is infinite. Undefined when an end is computed at run time.
 */
export function clipBounds(graph: Graph, clip: NodeProto): { min: number; max: number } | undefined {
  if (clip.input.length > 1) {
    const [lo, hi] = [clip.input[1], clip.input[2]];
    const min = lo ? scalarConstant(graph, lo) : Number.NEGATIVE_INFINITY;
    const max = hi ? scalarConstant(graph, hi) : Number.POSITIVE_INFINITY;
    return min === undefined || max === undefined ? undefined : { min, max };
  }
  return {
    min: readFloat(clip, 'min', Number.NEGATIVE_INFINITY),
    max: readFloat(clip, 'max', Number.POSITIVE_INFINITY),
  };
}
