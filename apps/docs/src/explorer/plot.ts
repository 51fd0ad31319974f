// The per-channel range plot of the Granularity Explorer, as plain numbers for an SVG: one bar
// per channel from its min to its max, against the one symmetric range a per-tensor scale covers.

/** Plot geometry in SVG user units. */
export const PLOT = { width: 640, height: 220, left: 44, right: 8, top: 10, bottom: 24 } as const;

/** One channel's bar. */
export interface ChannelBar {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Everything the SVG template draws. */
export interface RangePlot {
  readonly bars: readonly ChannelBar[];
  /** y of +absmax, 0 and -absmax. */
  readonly top: number;
  readonly zero: number;
  readonly bottom: number;
  readonly absMax: number;
  /** Widest channel range over the median channel range (how much per-channel saves). */
  readonly spread: number;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Lays out the bars of per-channel extremes. */
export function rangePlot(min: ArrayLike<number>, max: ArrayLike<number>): RangePlot {
  const n = min.length;
  let absMax = 0;
  const widths: number[] = [];
  for (let c = 0; c < n; c++) {
    absMax = Math.max(absMax, Math.abs(min[c]!), Math.abs(max[c]!));
    widths.push(Math.max(Math.abs(min[c]!), Math.abs(max[c]!)));
  }
  const scale = absMax > 0 ? absMax : 1;
  const inner = PLOT.height - PLOT.top - PLOT.bottom;
  const y = (v: number) => PLOT.top + ((scale - v) / (2 * scale)) * inner;
  const step = (PLOT.width - PLOT.left - PLOT.right) / Math.max(n, 1);
  const bars = Array.from({ length: n }, (_, c) => {
    const top = y(max[c]!);
    return {
      x: PLOT.left + c * step + step * 0.1,
      y: top,
      width: Math.max(step * 0.8, 0.5),
      height: Math.max(y(min[c]!) - top, 0.5),
    };
  });
  const typical = medianOf(widths);
  return {
    bars,
    top: y(scale),
    zero: y(0),
    bottom: y(-scale),
    absMax,
    spread: typical > 0 ? Math.max(...widths) / typical : Number.POSITIVE_INFINITY,
  };
}
