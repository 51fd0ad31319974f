// Histograms: the scalar kernel for short calls, the tabled one (u16 sub-counters folded into the
// float64 counts before they could overflow) for long ones.
import { CHUNK_ELEMENTS, type HostExports, type KernelHost } from './host.js';

// histogramTable adds at most ceil(len / 4) to any of its u16 counters per call; the table is
// folded into the float64 counts (and zeroed) before the calls since the last fold could add up
// to more than this.
const TABLE_LANE_LIMIT = 0xffff;

/** The module's histogram kernels. */
export interface HistogramExports extends HostExports {
  histogram(x: number, count: number, lo: number, hi: number, counts: number, bins: number): void;
  histogramReset(table: number, bins: number): void;
  histogramTable(x: number, count: number, lo: number, hi: number, table: number, bins: number): void;
  histogramFold(table: number, counts: number, bins: number): void;
}

/** Backend.histogram on the module. */
export function histogram(
  host: KernelHost<HistogramExports>,
  x: Float32Array,
  lo: number,
  hi: number,
  counts: Float64Array,
): void {
  const bins = counts.length;
  if (bins === 0) return;
  // The tabled kernel pays for zeroing and folding 4 u16 counters per bin: worth it once the
  // call has more elements than counters.
  const tabled = x.length >= 4 * (bins + 1);
  const [xr, countsr] = host.offsets(x, counts);
  // groupA holds the float64 counts, groupB the (bins + 1) x 8-byte u16 table.
  const s = host.scratch(8 * (bins + 1));
  x = host.revive(x, xr);
  counts = host.revive(counts, countsr);
  host.copyIn(counts, 0, counts.byteLength, s.groupA);
  if (tabled) host.k.histogramReset(s.groupB, bins);
  // The most any u16 counter may hold since the last fold.
  let pending = 0;
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    const base = host.floatInput(x, xr, c0, len, s.chunkIn);
    if (tabled) {
      const most = Math.ceil(len / 4);
      if (pending + most > TABLE_LANE_LIMIT) {
        host.k.histogramFold(s.groupB, s.groupA, bins);
        pending = 0;
      }
      host.k.histogramTable(base + c0 * 4, len, lo, hi, s.groupB, bins);
      pending += most;
    } else host.k.histogram(base + c0 * 4, len, lo, hi, s.groupA, bins);
  }
  if (tabled) host.k.histogramFold(s.groupB, s.groupA, bins);
  host.copyOut(s.groupA, counts.byteLength, counts, 0);
}
