import type { Observer } from '@qgrain/observers';
import { QgrainError } from '@qgrain/tensor';

/**
 * The calibration policy for non-finite values, in one place: NaN and +-Infinity in what an
 * activation sees are left out of its range (the observers skip them), and one warning counts
 * them; an activation that saw no finite value at all has no range to quantize with, and is an
 * error naming it rather than a silent [0, 0] or an infinite scale.
 *
 * Returns the warning (empty when every value was finite); throws QgrainError('non-finite-range')
 * for the first activation without a finite value.
 */
export function checkCalibratedRanges(observers: ReadonlyMap<string, Observer>): string[] {
  let total = 0;
  let tensors = 0;
  let worst: { name: string; count: number } | undefined;
  for (const [name, observer] of observers) {
    const count = observer.nanCount + observer.nonFiniteCount;
    const { min, max } = observer.range();
    let finite = false;
    for (let g = 0; g < min.length; g++) {
      if (Number.isFinite(min[g]) && Number.isFinite(max[g]) && min[g]! <= max[g]!) finite = true;
    }
    if (!finite) {
      const seen = count > 0 ? `only NaN or Inf (${count} values)` : 'no value at all';
      throw new QgrainError(
        'non-finite-range',
        `activation '${name}' saw ${seen} in ${observer.batches} calibration batch(es), so it has no range to quantize with; check the calibration data and the layers before it, or keep the node reading it float`,
        { tensor: name, value: count },
      );
    }
    if (count > 0) {
      total += count;
      tensors++;
      if (!worst || count > worst.count) worst = { name, count };
    }
  }
  if (!worst) return [];
  return [
    `calibration left out ${total} NaN/Inf value(s) seen by ${tensors} activation(s) (most in '${worst.name}': ${worst.count}); their ranges come from the finite values only`,
  ];
}
