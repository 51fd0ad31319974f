import { describe, expect, it } from 'vitest';
import { outputSqnrDb } from './output-sqnr.js';
import { PLOT, rangePlot } from './plot.js';

describe('rangePlot', () => {
  it('draws each channel from its min to its max inside the per-tensor lines', () => {
    const plot = rangePlot(Float32Array.of(-1, -0.1, 0), Float32Array.of(1, 0.1, 4));
    expect(plot.absMax).toBe(4);
    expect(plot.bars).toHaveLength(3);
    // +4 is the top line, -4 the bottom one, 0 half way.
    expect(plot.top).toBe(PLOT.top);
    expect(plot.bottom).toBe(PLOT.height - PLOT.bottom);
    expect(plot.zero).toBeCloseTo((plot.top + plot.bottom) / 2, 10);
    const [first, , last] = plot.bars;
    expect(first!.y + first!.height).toBeCloseTo(plot.zero + (plot.bottom - plot.zero) / 4, 10);
    expect(last!.y).toBeCloseTo(plot.top, 10);
    // Channel widths 1, 0.1 and 4: the widest is 4x the median one.
    expect(plot.spread).toBe(4);
  });
});

describe('outputSqnrDb', () => {
  it('is 10 log10 of signal over noise power, infinite when exact, NaN when lengths differ', () => {
    expect(outputSqnrDb([3, 4], [3, 4])).toBe(Number.POSITIVE_INFINITY);
    // signal 25, noise 0.25: 20 dB.
    expect(outputSqnrDb([3, 4], [3.5, 4])).toBeCloseTo(20, 10);
    expect(outputSqnrDb([1, 2], [1])).toBeNaN();
  });
});
