import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Measurement, measuredMarkdown } from './measured.js';

const dir = resolve(import.meta.dirname, '../pages/measured');

describe('the measured PP-OCRv4 page', () => {
  it('shows exactly what the committed measurement says (regenerate with pnpm --filter @qgrain/docs measure)', () => {
    const measurement = JSON.parse(readFileSync(join(dir, 'ppocr-v4.json'), 'utf8')) as Measurement;
    expect(readFileSync(join(dir, 'ppocr-v4.results.md'), 'utf8')).toBe(measuredMarkdown(measurement));
  });

  it('comes from runs of both scripts: accuracy and size of det and rec, det latency, quantize time', () => {
    const m = JSON.parse(readFileSync(join(dir, 'ppocr-v4.json'), 'utf8')) as Measurement;
    expect(m.eval.det.eval_pages).toBeGreaterThan(0);
    expect(m.eval.rec.eval_lines).toBeGreaterThan(0);
    expect(m.eval.det.bytes_int8).toBeLessThan(m.eval.det.bytes_float);
    expect(m.bench.map((r) => r.bench)).toContain('det_latency');
    expect(m.bench.map((r) => r.bench)).toContain('quantize_wall_time');
  });

  it('is included by the page', () => {
    expect(existsSync(join(dir, 'ppocr-v4.md'))).toBe(true);
    expect(readFileSync(join(dir, 'ppocr-v4.md'), 'utf8')).toContain(
      '<!--@include: ./ppocr-v4.results.md-->',
    );
  });
});
