import type { DataSource } from './data-source.js';
import { readSamplesFrom } from './data-source.js';
import type { FeedSource } from '../calibrate/calibrate.js';

/**
 * Splits a data source's batches in two by position: the first batches calibrate, the last `held`
 * are kept back to measure the quantized model on data it was not calibrated on. Each part is
 * re-readable. The held-back part starts at its first batch through `readSamplesFrom`, so an
 * image folder or an in-memory array does not decode the calibration batches again to skip them.
 */
export function splitData(
  source: DataSource,
  total: number,
  held: number,
): { calibration: FeedSource; holdout: FeedSource } {
  const cut = Math.max(total - held, 0);
  const range = (from: number, to: number): FeedSource =>
    async function* () {
      let i = from;
      for await (const feed of readSamplesFrom(source, from)) {
        if (i >= to) break;
        yield feed;
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
