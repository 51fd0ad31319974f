import type { Tensor } from '@qgrain/tensor';
import type { FeedSource } from './calibrate.js';

/**
 * Splits a feed source in two by position: the first batches calibrate, the last `held` batches
 * are kept back to measure the quantized model on data it was not calibrated on. Each part is
 * re-readable (it re-reads the source and skips or stops).
 */
export function splitFeeds(
  feeds: FeedSource,
  total: number,
  held: number,
): { calibration: FeedSource; holdout: FeedSource } {
  const cut = Math.max(total - held, 0);
  const range = (from: number, to: number): FeedSource =>
    async function* () {
      let i = 0;
      for await (const feed of feeds()) {
        if (i >= to) break;
        if (i >= from) yield feed as Readonly<Record<string, Tensor>>;
        i++;
      }
    };
  return { calibration: range(0, cut), holdout: range(cut, total) };
}

/**
 * How many batches to hold back by default: one in eight (at least one when there are two or more),
 * so a report's SQNR is measured on data calibration did not see while calibration keeps most data.
 */
export function defaultHoldout(batches: number): number {
  return batches < 2 ? 0 : Math.max(1, Math.round(batches / 8));
}
