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
  /**
   * The option takes its tensor off the fast integer kernels: every latency group the tensor is in
   * then pays its cost (once, however many of its tensors are slow).
   */
  readonly slow?: boolean;
}

/**
 * Tensors (by index into the choices) that a node's integer kernel needs together: the node runs
 * fast only while none of them takes a slow option, and costs `latencyMs` more when any does. A
 * convolution whose output is left float runs in float as surely as one whose input is.
 */
export interface LatencyGroup {
  readonly members: readonly number[];
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
  /** The picks the search started from (each tensor's cheapest option). */
  readonly start: readonly number[];
  /** The upgrades it took from there, in order (the undo step's moves are not among them). */
  readonly upgrades: readonly { readonly tensor: number; readonly option: number }[];
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
 * The latency an option costs with no other tensor slow: its own, plus every group of its tensor
 * when it is slow. What a tensor's options are ranked by outside the search's context.
 */
export function standaloneLatency(o: Option, t: number, groups: readonly LatencyGroup[]): number {
  if (!o.slow) return o.latencyMs;
  let ms = o.latencyMs;
  for (const g of groups) if (g.members.includes(t)) ms += g.latencyMs;
  return ms;
}

/**
 * Picks one option per tensor. With a target SQNR: start from each tensor's cheapest option and
 * take, one at a time, the upgrade that removes the most (signal-normalised) output noise per unit
 * of cost until the predicted SQNR reaches the target; then undo any upgrade the target does not
 * need, dearest first. With a size cap: activations take their fastest option with the least
 * noise, and weights are upgraded by noise removed per byte while the total fits. Cost is bytes
 * and milliseconds, each as a share of `scale`. An upgrade's milliseconds are counted in the
 * context of the picks so far: a slow option pays for the latency groups no other pick has made
 * slow yet.
 */
export function choose(
  choices: readonly Choice[],
  signal: readonly number[],
  budget: Budget,
  scale: CostScale,
  groups: readonly LatencyGroup[] = [],
): Decision {
  const outputs = signal.length;
  const groupsOf = choices.map(() => [] as number[]);
  groups.forEach((g, k) => {
    for (const t of g.members) groupsOf[t]!.push(k);
  });
  // Per group, how many of its members are on a slow option now.
  const slowIn = new Array<number>(groups.length).fill(0);
  const ms = (o: Option, t: number) => standaloneLatency(o, t, groups);
  const cost = (o: Option, t: number) =>
    (scale.bytes > 0 ? o.bytes / scale.bytes : 0) + (scale.latencyMs > 0 ? ms(o, t) / scale.latencyMs : 0);
  // Noise as a share of each output's signal, summed: what an upgrade is worth.
  const weight = (o: Option) => {
    let sum = 0;
    for (let k = 0; k < outputs; k++) sum += signal[k]! > 0 ? o.noise[k]! / signal[k]! : 0;
    return sum;
  };
  const bySize = budget.maxBytes !== undefined;
  // Options a tensor may take: under a size cap, an activation keeps its fastest options.
  const allowed = choices.map((c, t) => {
    if (!bySize) return c.options.map((_, i) => i);
    const fastest = Math.min(...c.options.map((o) => ms(o, t)));
    return c.options.map((o, i) => (ms(o, t) <= fastest ? i : -1)).filter((i) => i >= 0);
  });
  // A tensor's options ranked on their own (the start, and the order of the undo step).
  const price = bySize ? (o: Option) => o.bytes : cost;
  const better = (a: Option, b: Option, t: number) =>
    price(a, t) < price(b, t) || (price(a, t) === price(b, t) && weight(a) < weight(b));
  const picks = choices.map((c, t) =>
    allowed[t]!.reduce((best, i) => (better(c.options[i]!, c.options[best]!, t) ? i : best)),
  );
  const noise = new Array<number>(outputs).fill(0);
  let bytes = 0;
  let latencyMs = 0;
  const apply = (t: number, sign: 1 | -1) => {
    const o = choices[t]!.options[picks[t]!]!;
    for (let k = 0; k < outputs; k++) noise[k]! += sign * o.noise[k]!;
    bytes += sign * o.bytes;
    latencyMs += sign * o.latencyMs;
    if (!o.slow) return;
    for (const g of groupsOf[t]!) {
      if (sign > 0 && slowIn[g]!++ === 0) latencyMs += groups[g]!.latencyMs;
      if (sign < 0 && --slowIn[g]! === 0) latencyMs -= groups[g]!.latencyMs;
    }
  };
  // The latency moving tensor t to option i adds, with every other pick as it is.
  const latencyDelta = (t: number, i: number): number => {
    const current = choices[t]!.options[picks[t]!]!;
    const o = choices[t]!.options[i]!;
    let delta = o.latencyMs - current.latencyMs;
    if (Boolean(o.slow) !== Boolean(current.slow))
      for (const g of groupsOf[t]!) {
        const others = slowIn[g]! - (current.slow ? 1 : 0);
        if (others === 0) delta += (o.slow ? 1 : -1) * groups[g]!.latencyMs;
      }
    return delta;
  };
  const extraPrice = (t: number, i: number): number => {
    const extraBytes = choices[t]!.options[i]!.bytes - choices[t]!.options[picks[t]!]!.bytes;
    if (bySize) return extraBytes;
    return (
      (scale.bytes > 0 ? extraBytes / scale.bytes : 0) +
      (scale.latencyMs > 0 ? latencyDelta(t, i) / scale.latencyMs : 0)
    );
  };
  for (let t = 0; t < choices.length; t++) apply(t, 1);
  const start = [...picks];
  const upgrades: { tensor: number; option: number }[] = [];
  const sqnr = () => worstSqnrDb(signal, noise);
  const path: PathPoint[] = [{ bytes, latencyMs, sqnrDb: sqnr() }];
  const fits = () => (bySize ? true : sqnr() >= budget.targetSqnrDb!);
  const move = (t: number, i: number) => {
    apply(t, -1);
    picks[t] = i;
    apply(t, 1);
  };

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
        if (bySize && bytes + o.bytes - current.bytes > budget.maxBytes!) continue;
        if (budget.maxLatencyMs !== undefined && latencyMs + latencyDelta(t, i) > budget.maxLatencyMs)
          continue;
        const extra = extraPrice(t, i);
        const score = extra <= 0 ? Number.POSITIVE_INFINITY : gain / extra;
        if (!best || score > best.score) best = { t, i, score };
      }
    }
    if (!best) break;
    move(best.t, best.i);
    upgrades.push({ tensor: best.t, option: best.i });
    path.push({ bytes, latencyMs, sqnrDb: sqnr() });
  }

  // Undo what the target does not need: the dearest upgrades are tried first.
  if (!bySize && fits()) {
    const order = choices
      .map((_, t) => t)
      .sort((a, b) => price(choices[b]!.options[picks[b]!]!, b) - price(choices[a]!.options[picks[a]!]!, a));
    for (const t of order) {
      const current = choices[t]!.options[picks[t]!]!;
      const cheaper = allowed[t]!.filter((i) => price(choices[t]!.options[i]!, t) < price(current, t)).sort(
        (a, b) => price(choices[t]!.options[a]!, t) - price(choices[t]!.options[b]!, t),
      );
      for (const i of cheaper) {
        const was = picks[t]!;
        move(t, i);
        if (fits()) {
          path.push({ bytes, latencyMs, sqnrDb: sqnr() });
          break;
        }
        move(t, was);
      }
    }
  }
  const met = bySize ? bytes <= budget.maxBytes! : fits();
  return { picks, bytes, latencyMs, sqnrDb: sqnr(), met, path, start, upgrades };
}

/**
 * The decision that stops after the first `count` upgrades of `decision`: its picks, and their
 * bytes, latency and predicted SQNR counted as `choose` counts them.
 */
export function firstUpgrades(
  decision: Decision,
  count: number,
  choices: readonly Choice[],
  signal: readonly number[],
  budget: Budget,
  groups: readonly LatencyGroup[] = [],
): Decision {
  const picks = [...decision.start];
  const upgrades = decision.upgrades.slice(0, count);
  for (const u of upgrades) picks[u.tensor] = u.option;
  const noise = new Array<number>(signal.length).fill(0);
  let bytes = 0;
  let latencyMs = 0;
  const slow = new Set<number>();
  picks.forEach((p, t) => {
    const o = choices[t]!.options[p]!;
    o.noise.forEach((n, k) => {
      noise[k]! += n;
    });
    bytes += o.bytes;
    latencyMs += o.latencyMs;
    if (o.slow) slow.add(t);
  });
  for (const g of groups) if (g.members.some((t) => slow.has(t))) latencyMs += g.latencyMs;
  const sqnrDb = worstSqnrDb(signal, noise);
  const met = budget.maxBytes !== undefined ? bytes <= budget.maxBytes : sqnrDb >= budget.targetSqnrDb!;
  return {
    picks,
    bytes,
    latencyMs,
    sqnrDb,
    met,
    path: decision.path.slice(0, upgrades.length + 1),
    start: decision.start,
    upgrades,
  };
}
