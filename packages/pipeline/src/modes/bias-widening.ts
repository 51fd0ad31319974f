import { type QParams, qparamsFromValues } from '@qgrain/granularity';
import type { Initializer } from '@qgrain/onnx';
import type { Plan } from '../plan/plan.js';

/** Largest |bias / (inputScale * weightScale)| allowed: int32's range, less a margin for float rounding. */
const INT32_BIAS_LIMIT = 2 ** 31 - 1 - 2 ** 10;

/** What one int32 bias asks of its weight's scales: channel c's scale must reach `needed[c]`. */
export interface BiasNeed {
  readonly bias: string;
  readonly needed: Float64Array;
}

/** The scale groups of a weight that one bias widened, each from its measured scale to a wider one. */
export interface Widening {
  readonly bias: string;
  readonly widened: readonly { readonly channel: number; readonly from: number; readonly to: number }[];
}

/**
 * An int32 bias needs |b| / (s_x * s_w) to fit int32: the smallest weight scale each channel of
 * each of `weight`'s quantized-input biases allows. Read on the calling thread (it knows the
 * activation scales and holds the biases); widenScales applies them where the weight is quantized.
 */
export function biasScaleNeeds(
  weight: string,
  plan: Plan,
  activationScales: ReadonlyMap<string, number>,
  biasInitializer: (b: Plan['biases'][number]) => Initializer | undefined,
): BiasNeed[] {
  const needs: BiasNeed[] = [];
  for (const b of plan.biases) {
    const inputScale = activationScales.get(b.input);
    const init = b.weight === weight ? biasInitializer(b) : undefined;
    if (inputScale === undefined || !init) continue;
    const bias = init.toTensor().toFloat32();
    needs.push({
      bias: b.initializer,
      needed: Float64Array.from(bias, (v) => Math.abs(v) / (inputScale * INT32_BIAS_LIMIT)),
    });
  }
  return needs;
}

/**
 * A channel with almost-zero weights (a dead filter after BatchNorm folding) gets a tiny s_w and
 * its bias would overflow int32; widening that channel's weight scale costs nothing measurable
 * (its weights are ~0) and keeps the layer on the integer kernel, where a float bias would not.
 * Returns `qp` itself when no scale had to move, and what each bias widened (for the notes).
 */
export function widenScales(qp: QParams, needs: readonly BiasNeed[]): { qp: QParams; widenings: Widening[] } {
  let scale: Float32Array | undefined;
  const widenings: Widening[] = [];
  for (const { bias, needed } of needs) {
    // Scale group -> its scale before and after widening. A per-tensor weight has one group for
    // every channel of the bias, so the widest need of all of them must win.
    const widened = new Map<number, { from: number; to: number }>();
    for (let c = 0; c < needed.length; c++) {
      const g = qp.scale.length === 1 ? 0 : c;
      if ((scale ?? qp.scale)[g]! >= needed[c]!) continue;
      scale ??= Float32Array.from(qp.scale);
      const to = Math.fround(needed[c]! * (1 + 2 ** -20));
      widened.set(g, { from: widened.get(g)?.from ?? scale[g]!, to });
      scale[g] = to;
    }
    if (widened.size > 0)
      widenings.push({ bias, widened: [...widened].map(([channel, w]) => ({ channel, ...w })) });
  }
  if (!scale) return { qp, widenings };
  return {
    qp: qparamsFromValues(scale, qp.zeroPoint, qp.spec, qp.shape, { context: contextOf(qp) }),
    widenings,
  };
}

function contextOf(qp: QParams): { channelAxis?: number; blockAxis?: number } {
  const g = qp.granularity;
  if (g.kind === 'per-axis') return { channelAxis: g.axis };
  if (g.kind === 'per-block') return { blockAxis: g.axis };
  return {};
}
