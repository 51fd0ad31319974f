// The decision: one option per tensor, the cheapest combination that keeps the model within the
// budget. Output noise is taken as additive over tensors (independent rounding errors add in
// power), so a combination's output SQNR is predicted from each option's own measured noise; the
// advisor then builds the chosen model and measures it (advise.ts).

import { sqnrFromSums } from '@qgrain/granularity';

/** One way to treat one tensor, with its predicted cost and effect. */
export interface Option {
  readonly label: string;
  /** Predicted output noise (sum of squared errors) per model output, with only this option applied. */
  readonly noise: readonly number[];
  /** Bytes the tensor takes in the file under this option (0 for activations). */
  readonly bytes: number;
  /** Measured latency this option adds over the fastest model (ms; 0 for weights). */
  readonly latencyMs: number;
}

/** A tensor and its options. */
export interface Choice {
  readonly tensor: string;
  readonly options: readonly Option[];
}

/** What to keep: an output SQNR to reach, or a size not to pass. */
export type Budget = (
  | { readonly targetSqnrDb: number; readonly maxBytes?: undefined }
  | { readonly maxBytes: number; readonly targetSqnrDb?: undefined }
) & {
  /** Latency the options may add over the fastest model, in ms (no cap when absent). */
  readonly maxLatencyMs?: number;
};

/** A point of the path the search walked: the frontier the report draws. */
export interface PathPoint {
  readonly bytes: number;
  readonly latencyMs: number;
  readonly sqnrDb: number;
}

/** What `choose` decided. */
export interface Decision {
  /** Index of the chosen option of each choice, in order. */
  readonly picks: readonly number[];
  readonly bytes: number;
  readonly latencyMs: number;
  /** Predicted output SQNR of the worst output, in dB. */
  readonly sqnrDb: number;
  /** False when even the best options cannot meet the budget. */
  readonly met: boolean;
  readonly path: readonly PathPoint[];
}

/** What makes bytes and milliseconds comparable: the size and latency a cost is a share of. */
export interface CostScale {
  readonly bytes: number;
  readonly latencyMs: number;
}

/** Output SQNR in dB from per-output signal and noise (the worst output counts). */
export function worstSqnrDb(signal: readonly number[], noise: readonly number[]): number {
  let worst = Number.POSITIVE_INFINITY;
  for (let o = 0; o < signal.length; o++) {
    // A difference of sums can round below 0: that is no noise.
    worst = Math.min(worst, sqnrFromSums(signal[o]!, Math.max(0, noise[o]!)));
  }
  return worst;
}

/**
 * Picks one option per tensor. With a target SQNR: start from each tensor's cheapest option and
 * take, one at a time, the upgrade that removes the most (signal-normalised) output noise per unit
 * of cost until the predicted SQNR reaches the target; then undo any upgrade the target does not
 * need, dearest first. With a size cap: activations take their fastest option with the least
 * noise, and weights are upgraded by noise removed per byte while the total fits. Cost is bytes
 * and milliseconds, each as a share of `scale`.
 */
export function choose(
  choices: readonly Choice[],
  signal: readonly number[],
  budget: Budget,
  scale: CostScale,
): Decision {
  const outputs = signal.length;
  const cost = (o: Option) =>
    (scale.bytes > 0 ? o.bytes / scale.bytes : 0) + (scale.latencyMs > 0 ? o.latencyMs / scale.latencyMs : 0);
  const weight = (o: Option) => {
    let sum = 0;
    for (let k = 0; k < outputs; k++) sum += signal[k]! > 0 ? o.noise[k]! / signal[k]! : 0;
    return sum;
  };
  const bySize = budget.maxBytes !== undefined;
  // Options a tensor may take: under a size cap, an activation keeps its fastest options.
  const allowed = choices.map((c) => {
    if (!bySize) return c.options.map((_, i) => i);
    const fastest = Math.min(...c.options.map((o) => o.latencyMs));
    return c.options.map((o, i) => (o.latencyMs <= fastest ? i : -1)).filter((i) => i >= 0);
  });
  const better = (a: Option, b: Option, price: (o: Option) => number) =>
    price(a) < price(b) || (price(a) === price(b) && weight(a) < weight(b));
  const price = bySize ? (o: Option) => o.bytes : cost;
  const picks = choices.map((c, t) =>
    allowed[t]!.reduce((best, i) => (better(c.options[i]!, c.options[best]!, price) ? i : best)),
  );
  const noise = new Array<number>(outputs).fill(0);
  let bytes = 0;
  let latencyMs = 0;
  const apply = (t: number, sign: 1 | -1) => {
    const o = choices[t]!.options[picks[t]!]!;
    for (let k = 0; k < outputs; k++) noise[k]! += sign * o.noise[k]!;
    bytes += sign * o.bytes;
    latencyMs += sign * o.latencyMs;
  };
  for (let t = 0; t < choices.length; t++) apply(t, 1);
  const sqnr = () => worstSqnrDb(signal, noise);
  const path: PathPoint[] = [{ bytes, latencyMs, sqnrDb: sqnr() }];
  const fits = () => (bySize ? true : sqnr() >= budget.targetSqnrDb!);

  // Upgrades, best value first, until the budget is met (target) or nothing more fits (size).
  for (;;) {
    if (!bySize && fits()) break;
    let best: { t: number; i: number; score: number } | undefined;
    for (let t = 0; t < choices.length; t++) {
      const current = choices[t]!.options[picks[t]!]!;
      for (const i of allowed[t]!) {
        const o = choices[t]!.options[i]!;
        const gain = weight(current) - weight(o);
        if (gain <= 0) continue;
        const extra = price(o) - price(current);
        if (bySize && bytes + o.bytes - current.bytes > budget.maxBytes!) continue;
        if (
          budget.maxLatencyMs !== undefined &&
          latencyMs + o.latencyMs - current.latencyMs > budget.maxLatencyMs
        )
          continue;
        const score = extra <= 0 ? Number.POSITIVE_INFINITY : gain / extra;
        if (!best || score > best.score) best = { t, i, score };
      }
    }
    if (!best) break;
    apply(best.t, -1);
    picks[best.t] = best.i;
    apply(best.t, 1);
    path.push({ bytes, latencyMs, sqnrDb: sqnr() });
  }

  // Undo what the target does not need: the dearest upgrades are tried first.
  if (!bySize && fits()) {
    const order = choices
      .map((_, t) => t)
      .sort((a, b) => price(choices[b]!.options[picks[b]!]!) - price(choices[a]!.options[picks[a]!]!));
    for (const t of order) {
      const current = choices[t]!.options[picks[t]!]!;
      const cheaper = allowed[t]!.filter((i) => price(choices[t]!.options[i]!) < price(current)).sort(
        (a, b) => price(choices[t]!.options[a]!) - price(choices[t]!.options[b]!),
      );
      for (const i of cheaper) {
        const was = picks[t]!;
        apply(t, -1);
        picks[t] = i;
        apply(t, 1);
        if (fits()) {
          path.push({ bytes, latencyMs, sqnrDb: sqnr() });
          break;
        }
        apply(t, -1);
        picks[t] = was;
        apply(t, 1);
      }
    }
  }
  const met = bySize ? bytes <= budget.maxBytes! : fits();
  return { picks, bytes, latencyMs, sqnrDb: sqnr(), met, path };
}
