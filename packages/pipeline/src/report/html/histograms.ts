// Activation histograms for the HTML report: a calibration observer's histogram (2048 bins by
// default, most of them often empty) cut to the bins that hold values and merged to a drawable
// number, with the range calibration chose.
import type { HistogramObserver, Observer } from '@qgrain/observers';
import type { ActivationHistogram } from './report-data.js';

/** Bins an activation histogram is drawn with at most. */
export const MAX_HISTOGRAM_BINS = 128;

/**
 * The histogram of `counts` (bin 0 from `lowerEdge`, bins `binWidth` wide) cut to the bins from
 * the first to the last that hold a count, and with runs of adjacent bins summed so that at most
 * `maxBins` remain. Counts are kept exactly (only their resolution drops); bins stay equally wide.
 */
export function downsampleHistogram(
  counts: ArrayLike<number>,
  lowerEdge: number,
  binWidth: number,
  maxBins = MAX_HISTOGRAM_BINS,
): { counts: number[]; lowerEdge: number; binWidth: number } {
  let first = 0;
  let last = counts.length - 1;
  while (first <= last && !(counts[first]! > 0)) first++;
  while (last >= first && !(counts[last]! > 0)) last--;
  if (first > last) return { counts: [], lowerEdge, binWidth };
  const span = last - first + 1;
  const merge = Math.ceil(span / Math.max(1, Math.floor(maxBins)));
  const out = new Array<number>(Math.ceil(span / merge)).fill(0);
  for (let i = first; i <= last; i++) out[Math.floor((i - first) / merge)]! += counts[i]!;
  return { counts: out, lowerEdge: lowerEdge + first * binWidth, binWidth: binWidth * merge };
}

/**
 * The drawable histogram of one calibrated activation: the observer's histogram (when it keeps
 * one: min/max observers do not, and give undefined), downsampled, with the range and method the
 * run took for the tensor.
 */
export function activationHistogram(
  tensor: string,
  observer: Observer,
  range: { readonly min: number; readonly max: number },
  method: string,
  maxBins = MAX_HISTOGRAM_BINS,
): ActivationHistogram | undefined {
  if (observer.kind !== 'histogram') return undefined;
  const snapshot = (observer as HistogramObserver).histogramSnapshot();
  const bins = downsampleHistogram(snapshot.counts, snapshot.lowerEdge, snapshot.width, maxBins);
  if (bins.counts.length === 0) return undefined;
  return {
    tensor,
    lowerEdge: bins.lowerEdge,
    binWidth: bins.binWidth,
    counts: bins.counts,
    magnitude: snapshot.mode === 'abs',
    range: { min: range.min, max: range.max },
    method,
    observed: { min: snapshot.min, max: snapshot.max },
  };
}
