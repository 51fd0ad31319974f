import { clipBounds, scalarConstant } from './constant-values.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import { type NodeProto, isDefaultDomain } from './proto-types.js';

/** x * HardSigmoid(x) with these is HardSwish: x * clip(x / 6 + 1 / 2, 0, 1) = x * clip(x + 3, 0, 6) / 6. */
export const HARD_SWISH_ALPHA = 1 / 6;
/** The HardSigmoid `beta` that, with {@link HARD_SWISH_ALPHA}, makes x * HardSigmoid(x) a HardSwish. */
export const HARD_SWISH_BETA = 0.5;

/** The one node that reads `name` (see Graph.soleConsumer), when it is a standard ONNX op. */
function soleReader(graph: Graph, name: string): NodeProto | undefined {
  const reader = graph.soleConsumer(name);
  return reader && isDefaultDomain(reader) ? reader : undefined;
}

/** The other input of a two-input node, when `name` is exactly one of them. */
function otherInput(node: NodeProto, name: string): string | undefined {
  if (node.input.length !== 2 || node.input[0] === node.input[1]) return undefined;
  return node.input[0] === name ? node.input[1] : node.input[1] === name ? node.input[0] : undefined;
}

/**
 * HardSwish spelled out from `add`: Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(., 6) or
 * Mul(., 1/6), each intermediate read only by the next node. Gives x, the Add, Clip and scaling
 * nodes, the Mul(x, .) and the name of the result.
 */
export function spelledHardSwish(
  graph: Graph,
  add: NodeProto,
): { x: string; nodes: NodeProto[]; mul: NodeProto; output: string } | undefined {
  if (add.opType !== 'Add' || !isDefaultDomain(add) || add.input.length !== 2) return undefined;
  const x = add.input.find((name) => scalarConstant(graph, otherInput(add, name)) === 3);
  if (x === undefined || graph.initializer(x)) return undefined;
  const clip = soleReader(graph, add.output[0]!);
  const bounds = clip?.opType === 'Clip' ? clipBounds(graph, clip) : undefined;
  if (!clip || clip.input[0] !== add.output[0] || bounds?.min !== 0 || bounds.max !== 6) return undefined;
  const mul = soleReader(graph, clip.output[0]!);
  if (mul?.opType !== 'Mul' || otherInput(mul, clip.output[0]!) !== x) return undefined;
  const scale = soleReader(graph, mul.output[0]!);
  if (scale?.input.length !== 2) return undefined;
  const divides = scale.opType === 'Div' && scale.input[0] === mul.output[0];
  const by = scalarConstant(graph, otherInput(scale, mul.output[0]!));
  const byDiv = divides && by === 6;
  const byMul = scale.opType === 'Mul' && by !== undefined && Math.abs(by - 1 / 6) < 1e-7;
  if (!byDiv && !byMul) return undefined;
  return { x, nodes: [add, clip, scale], mul, output: scale.output[0]! };
}

/**
 * Rewrites HardSwish spelled out as Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6) (how
 * exporters write it below opset 14, PyTorch and Paddle alike) as x * HardSigmoid(x) with
 * alpha 1/6 and beta 1/2: two element-wise passes instead of four, at every opset, and the same
 * function up to float rounding. Returns the number rewritten.
 */
export function fuseHardSwishes(model: Model): number {
  let fused = 0;
  for (const graph of model.graphs()) {
    for (const add of [...graph.nodes]) {
      const found = spelledHardSwish(graph, add);
      if (!found) continue;
      const gate = graph.model.uniqueName(`${found.x}_hard_sigmoid`);
      const at = graph.nodes.indexOf(add);
      for (const node of found.nodes) graph.removeNode(node);
      graph.addNode(
        {
          opType: 'HardSigmoid',
          inputs: [found.x],
          outputs: [gate],
          attributes: { alpha: HARD_SWISH_ALPHA, beta: HARD_SWISH_BETA },
        },
        at,
      );
      found.mul.input = [found.x, gate];
      found.mul.output = [found.output];
      graph.removeUnusedInitializers(found.nodes.flatMap((n) => n.input));
      fused++;
    }
  }
  return fused;
}
