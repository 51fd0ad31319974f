// The charts of the HTML report, written as SVG text. The page draws its selectable charts again
// in the browser when the reader picks another layer; to do that with this very code, the page
// embeds the source of `svgCharts` (see render.ts), so the function must not refer to anything
// outside its own body: no imports at run time, no module-level helpers, no `</script` in it.
import type { ActivationHistogram, ChannelRanges, FrontierPoint, LayerRow } from './report-data.js';

/** A dashed line drawn across a chart at a value, with its label. */
export interface ReferenceLine {
  readonly value: number;
  readonly label: string;
}

/** What {@link svgCharts} returns: one function per chart, data in, HTML text out. */
export interface SvgCharts {
  /** Text made safe for HTML element content and attribute values. */
  readonly escapeHtml: (text: string) => string;
  /**
   * One group per layer with candidates, one bar per candidate (class `bar`; the chosen one also
   * `chosen`), the SQNR `metric` of each candidate, a line at `reference` when given.
   */
  readonly candidateBars: (
    layers: readonly LayerRow[],
    metric: 'outputSqnrDb' | 'localSqnrDb',
    reference?: ReferenceLine,
  ) => string;
  /** The colour key of {@link candidateBars} for the same layers (HTML). */
  readonly candidateLegend: (layers: readonly LayerRow[]) => string;
  /** A caption and one bar per output channel (class `bar`), from its minimum to its maximum. */
  readonly channelRanges: (ranges: ChannelRanges) => string;
  /** A caption and one bar per non-empty bin (class `bar`), log-scaled, the chosen range as two lines. */
  readonly histogram: (histogram: ActivationHistogram) => string;
  /** Bytes against output SQNR, one mark per point (class `point`), the best-so-far line through them. */
  readonly frontier: (points: readonly FrontierPoint[], target?: ReferenceLine) => string;
}

/**
 * Makes the chart functions. Self-contained (see the note at the top of the file): the page runs
 * `(<source of svgCharts>)()` to redraw a chart from its embedded data. Non-finite numbers are
 * accepted everywhere (the page's JSON turns them into null): an infinite SQNR (exact) is drawn at
 * the top of its axis, a missing value is not drawn.
 */
export function svgCharts(): SvgCharts {
  const WIDTH = 960;
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f'];

  const escapeHtml = (text: string): string =>
    String(text).replace(/[&<>"'\u2028\u2029]/g, (c) => `&#${c.charCodeAt(0)};`);
  const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  /** A value for people: 4 significant digits, `inf` for an exact SQNR, `-` when not measured. */
  const show = (v: number | null | undefined): string => {
    if (!isNumber(v)) return '-';
    if (v === Number.POSITIVE_INFINITY) return 'inf';
    if (v === Number.NEGATIVE_INFINITY) return '-inf';
    return String(Number(v.toPrecision(4)));
  };
  /** A coordinate, to a tenth of a pixel. */
  const px = (v: number): string => String(Math.round(v * 10) / 10);
  const scale =
    (d0: number, d1: number, r0: number, r1: number) =>
    (v: number): number =>
      r0 + ((v - d0) / (d1 - d0 || 1)) * (r1 - r0);
  /** Round steps (1, 2, 5 times a power of ten) covering [lo, hi] with about `count` ticks. */
  const ticks = (lo: number, hi: number, count: number): number[] => {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
    const out: number[] = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
      out.push(Number(t.toPrecision(12)));
    return out;
  };
  const svg = (chart: string, height: number, label: string, body: string): string =>
    `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${chart}" viewBox="0 0 ${WIDTH} ${px(height)}" width="${WIDTH}" height="${px(height)}" role="img" aria-label="${escapeHtml(label)}">${body}</svg>`;
  const line = (x1: number, y1: number, x2: number, y2: number, attributes: string): string =>
    `<line x1="${px(x1)}" y1="${px(y1)}" x2="${px(x2)}" y2="${px(y2)}" ${attributes}/>`;
  const text = (x: number, y: number, content: string, attributes = ''): string =>
    `<text x="${px(x)}" y="${px(y)}"${attributes ? ` ${attributes}` : ''}>${escapeHtml(content)}</text>`;
  /** A horizontal axis at `y` with grid lines up to `top`. */
  const xAxis = (
    values: readonly number[],
    x: (v: number) => number,
    y: number,
    top: number,
    format: (v: number) => string,
    title: string,
  ): string =>
    values
      .map(
        (v) =>
          line(x(v), top, x(v), y, 'class="grid"') + text(x(v), y + 14, format(v), 'text-anchor="middle"'),
      )
      .join('') +
    line(x(values[0] ?? 0), y, x(values[values.length - 1] ?? 0), y, 'class="axis"') +
    text(
      x((values[0]! + values[values.length - 1]!) / 2),
      y + 30,
      title,
      'text-anchor="middle" class="title"',
    );
  /** A vertical axis at `x` with grid lines across to `right`. */
  const yAxis = (
    values: readonly number[],
    y: (v: number) => number,
    x: number,
    right: number,
    format: (v: number) => string,
    title: string,
    titleY: number,
  ): string =>
    values
      .map(
        (v) =>
          line(x, y(v), right, y(v), 'class="grid"') + text(x - 6, y(v) + 4, format(v), 'text-anchor="end"'),
      )
      .join('') +
    text(
      x - 50,
      titleY,
      title,
      `class="title" transform="rotate(-90 ${px(x - 50)} ${px(titleY)})" text-anchor="middle"`,
    );
  /** A name shortened to `max` characters from its end (where layer names differ). */
  const shorten = (name: string, max: number): string =>
    name.length > max ? `…${name.slice(name.length - max + 1)}` : name;
  const bytes = (v: number): string =>
    v >= 1e6 ? `${show(v / 1e6)} MB` : v >= 1e3 ? `${show(v / 1e3)} kB` : `${show(v)} B`;

  /** Candidate names in order of first appearance: the order of their colours. */
  const candidateNames = (layers: readonly LayerRow[]): string[] => {
    const names: string[] = [];
    for (const l of layers)
      for (const c of l.candidates) if (!names.includes(c.candidate)) names.push(c.candidate);
    return names;
  };

  const candidateLegend: SvgCharts['candidateLegend'] = (layers) =>
    `<div class="legend">${candidateNames(layers)
      .map((n, i) => `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${escapeHtml(n)}</span>`)
      .join('')}<span>outlined: the scheme chosen</span></div>`;

  const candidateBars: SvgCharts['candidateBars'] = (layers, metric, reference) => {
    const rows = layers.filter((l) => l.candidates.length > 0);
    const names = candidateNames(rows);
    const color = (name: string) => PALETTE[names.indexOf(name) % PALETTE.length]!;
    const values = rows.flatMap((l) => l.candidates.map((c) => c[metric])).filter(finite);
    const high = Math.max(1, ...values, reference ? reference.value : 0) * 1.05;
    const left = 250;
    const right = WIDTH - 20;
    const top = 10;
    const bar = 5;
    const gap = 8;
    const x = scale(0, high, left, right);
    const clamp = (v: number) => (v === Number.POSITIVE_INFINITY ? high : Math.min(Math.max(v, 0), high));
    let y = top;
    let body = '';
    for (const [i, l] of rows.entries()) {
      const height = l.candidates.length * bar;
      if (i % 2 === 0)
        body += `<rect class="band" x="0" y="${px(y - gap / 2)}" width="${WIDTH}" height="${px(height + gap)}"/>`;
      body += `<text x="${left - 8}" y="${px(y + height / 2 + 4)}" text-anchor="end">${escapeHtml(shorten(l.tensor, 36))}<title>${escapeHtml(l.tensor)}</title></text>`;
      for (const [k, c] of l.candidates.entries()) {
        const v = c[metric];
        const width = isNumber(v) ? x(clamp(v)) - left : 0;
        const chosen = c.chosen ? ' chosen' : '';
        const tip = `${l.tensor}: ${c.candidate}${c.chosen ? ' (chosen)' : ''}: ${show(v)} dB${c.bytes === undefined ? '' : `, ${bytes(c.bytes)}`}`;
        body += `<rect class="bar${chosen}" x="${left}" y="${px(y + k * bar)}" width="${px(width)}" height="${bar - 1}" fill="${color(c.candidate)}"><title>${escapeHtml(tip)}</title></rect>`;
      }
      y += height + gap;
    }
    const bottom = y;
    const axis = xAxis(
      ticks(0, high, 8),
      x,
      bottom,
      top - gap / 2,
      show,
      metric === 'outputSqnrDb'
        ? 'model output SQNR with only this tensor quantized (dB)'
        : 'weight SQNR (dB)',
    );
    const ref = reference
      ? line(x(reference.value), top - gap / 2, x(reference.value), bottom, 'class="reference"') +
        text(x(reference.value) + 4, bottom - 4, reference.label, 'class="reference-label"')
      : '';
    return svg('candidates', bottom + 40, 'SQNR of each candidate per layer', axis + body + ref);
  };

  const channelRanges: SvgCharts['channelRanges'] = (r) => {
    const n = r.min.length;
    const lows = r.min.filter(finite);
    const highs = r.max.filter(finite);
    const low = Math.min(0, ...lows);
    const high = Math.max(0, ...highs);
    // What one per-tensor int8 scale must cover: the largest magnitude of any channel.
    const limit = Math.max(-low, high);
    const left = 70;
    const right = WIDTH - 20;
    const top = 12;
    const bottom = 300;
    const x = scale(0, Math.max(n, 1), left, right);
    const y = scale(-limit || -1, limit || 1, bottom, top);
    const width = Math.max((right - left) / Math.max(n, 1) - (n > 200 ? 0 : 1), 0.5);
    let narrow = 0;
    let body = '';
    for (let c = 0; c < n; c++) {
      const lo = r.min[c];
      const hi = r.max[c];
      if (!finite(lo) || !finite(hi)) {
        body += `<rect class="bar" x="${px(x(c))}" y="${px(y(0))}" width="${px(width)}" height="0"><title>channel ${c}: no value</title></rect>`;
        continue;
      }
      // The int8 steps this channel spans under the per-tensor scale (limit / 127 per step).
      const levels = limit > 0 ? Math.round((Math.max(-lo, hi) / limit) * 127) : 127;
      const poor = levels < 16;
      if (poor) narrow++;
      body += `<rect class="bar${poor ? ' narrow' : ''}" x="${px(x(c))}" y="${px(y(hi))}" width="${px(width)}" height="${px(Math.max(y(lo) - y(hi), 0.5))}"><title>${escapeHtml(`channel ${c}: ${show(lo)} .. ${show(hi)}; ${levels} int8 steps of 127 under one per-tensor scale`)}</title></rect>`;
    }
    const axisY = yAxis(ticks(-limit, limit, 6), y, left, right, show, 'weight value', (top + bottom) / 2);
    const channelTicks = ticks(0, Math.max(n - 1, 0), Math.min(10, Math.max(n - 1, 1))).filter((t) =>
      Number.isInteger(t),
    );
    const axisX = xAxis(
      channelTicks,
      (c) => x(c) + width / 2,
      bottom,
      top,
      show,
      `output channel (axis ${r.axis})`,
    );
    const limits =
      line(left, y(limit), right, y(limit), 'class="reference"') +
      line(left, y(-limit), right, y(-limit), 'class="reference"') +
      line(left, y(0), right, y(0), 'class="axis"');
    const caption =
      `<p class="caption"><b>${escapeHtml(r.weight)}</b> (${escapeHtml(r.op)} <code>${escapeHtml(r.node)}</code>${r.depthwise ? ', <span class="depthwise">depthwise</span>' : ''}): ` +
      `${n} output channels; one per-tensor int8 scale covers ±${escapeHtml(show(limit))} (dashed). ` +
      `${narrow} of ${n} channels (<span class="narrow-key">orange</span>) would use fewer than 16 of its 127 steps.</p>`;
    return (
      caption +
      svg('channels', bottom + 40, `per-channel ranges of ${r.weight}`, axisY + axisX + limits + body)
    );
  };

  const histogram: SvgCharts['histogram'] = (h) => {
    const n = h.counts.length;
    const end = h.lowerEdge + n * h.binWidth;
    // On a histogram of |x| the range's ends are drawn at their magnitudes.
    const at = (v: number) => (h.magnitude ? Math.abs(v) : v);
    const marks = [h.range.min, h.range.max].filter(finite).map(at);
    const lo = Math.min(h.lowerEdge, ...marks);
    const hi = Math.max(end, ...marks, lo + (h.binWidth || 1));
    const peak = Math.max(1, ...h.counts.filter(finite));
    const left = 70;
    const right = WIDTH - 20;
    const top = 16;
    const bottom = 280;
    const x = scale(lo, hi, left, right);
    const logTop = Math.log10(peak + 1);
    const y = scale(0, logTop, bottom, top);
    let total = 0;
    let beyond = 0;
    let body = '';
    for (let i = 0; i < n; i++) {
      const count = h.counts[i];
      if (!finite(count) || count <= 0) continue;
      total += count;
      const a = h.lowerEdge + i * h.binWidth;
      const b = a + h.binWidth;
      const outside = h.magnitude ? a >= Math.max(...marks, 0) : a >= h.range.max || b <= h.range.min;
      if (outside) beyond += count;
      const x0 = x(a);
      const w = Math.max(x(b) - x0 - 0.2, 0.5);
      body += `<rect class="bar${outside ? ' clipped' : ''}" x="${px(x0)}" y="${px(y(Math.log10(count + 1)))}" width="${px(w)}" height="${px(bottom - y(Math.log10(count + 1)))}"><title>${escapeHtml(`${h.magnitude ? '|x|' : 'x'} in [${show(a)}, ${show(b)}): ${count}`)}</title></rect>`;
    }
    const powers: number[] = [];
    for (let p = 0; 10 ** p <= peak; p++) powers.push(10 ** p);
    const axisY = yAxis(
      powers,
      (c) => y(Math.log10(c + 1)),
      left,
      right,
      (c) => (c >= 1e3 ? `1e${Math.round(Math.log10(c))}` : String(c)),
      'count (log)',
      (top + bottom) / 2,
    );
    const axisX = xAxis(ticks(lo, hi, 8), x, bottom, top, show, h.magnitude ? '|x|' : 'x');
    // Each label inside the plot, on a row of its own, so that neither runs into an axis or the other.
    const rangeLabel = (v: number, row: number, content: string): string =>
      x(at(v)) > right - 90
        ? text(x(at(v)) - 4, top + 6 + row * 14, content, 'class="range-label" text-anchor="end"')
        : text(x(at(v)) + 4, top + 6 + row * 14, content, 'class="range-label"');
    const rangeLines = [
      ['min', h.range.min],
      ['max', h.range.max],
    ]
      .filter((e): e is [string, number] => finite(e[1]))
      .map(
        ([name, v], k) =>
          line(x(at(v)), top - 6, x(at(v)), bottom, 'class="range"') + rangeLabel(v, k, `${name} ${show(v)}`),
      )
      .join('');
    const share = total > 0 ? (beyond / total) * 100 : 0;
    const caption =
      `<p class="caption"><b>${escapeHtml(h.tensor)}</b>: ${escapeHtml(h.method)} chose [${escapeHtml(show(h.range.min))}, ${escapeHtml(show(h.range.max))}] ` +
      `(red) from values in [${escapeHtml(show(h.observed.min))}, ${escapeHtml(show(h.observed.max))}]` +
      `${h.magnitude ? '; the histogram counts |x|' : ''}; bins wholly beyond the range hold ${escapeHtml(show(share))}% of the values.</p>`;
    return (
      caption + svg('histogram', bottom + 40, `histogram of ${h.tensor}`, axisY + axisX + body + rangeLines)
    );
  };

  const frontier: SvgCharts['frontier'] = (points, target) => {
    const sizes = points.map((p) => p.bytes).filter(finite);
    const dbs = points.map((p) => p.outputSqnrDb).filter(finite);
    const minB = Math.min(...sizes);
    const maxB = Math.max(...sizes);
    const padB = (maxB - minB) * 0.06 || Math.max(maxB * 0.01, 1);
    const lowDb = Math.min(0, ...dbs, target ? target.value : 0);
    const highDb = Math.max(1, ...dbs, target ? target.value : 0) * 1.08;
    const left = 80;
    const right = WIDTH - 140;
    const top = 16;
    const bottom = 380;
    const x = scale(minB - padB, maxB + padB, left, right);
    const y = scale(lowDb, highDb, bottom, top);
    const yOf = (v: number) => y(v === Number.POSITIVE_INFINITY ? highDb : Math.max(v, lowDb));
    // The best SQNR reachable at each size: points no smaller point beats.
    const sorted = points
      .filter((p) => finite(p.bytes) && isNumber(p.outputSqnrDb))
      .slice()
      .sort((a, b) => a.bytes - b.bytes || b.outputSqnrDb - a.outputSqnrDb);
    const best: FrontierPoint[] = [];
    for (const p of sorted)
      if (best.length === 0 || p.outputSqnrDb > best[best.length - 1]!.outputSqnrDb) best.push(p);
    const path = best
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${px(x(p.bytes))} ${px(yOf(p.outputSqnrDb))}`)
      .join(' ');
    let body = path ? `<path class="frontier-line" d="${path}"/>` : '';
    for (const p of points) {
      if (!finite(p.bytes) || !isNumber(p.outputSqnrDb)) continue;
      const cx = x(p.bytes);
      const cy = yOf(p.outputSqnrDb);
      const tip = `${p.label}: ${bytes(p.bytes)}, ${show(p.outputSqnrDb)} dB (${p.source})`;
      const cls = `point ${p.source}${p.highlight ? ` highlight ${p.highlight}` : ''}`;
      const mark =
        p.source === 'measured'
          ? `<rect class="${cls}" x="${px(cx - 4)}" y="${px(cy - 4)}" width="8" height="8"><title>${escapeHtml(tip)}</title></rect>`
          : `<circle class="${cls}" cx="${px(cx)}" cy="${px(cy)}" r="4"><title>${escapeHtml(tip)}</title></circle>`;
      body += mark;
      if (p.highlight) body += text(cx + 8, cy - 6, p.label, 'class="point-label"');
    }
    const axisX = xAxis(ticks(minB - padB, maxB + padB, 7), x, bottom, top, bytes, 'model file size');
    const axisY = yAxis(
      ticks(lowDb, highDb, 6),
      y,
      left,
      right,
      show,
      'model output SQNR (dB)',
      (top + bottom) / 2,
    );
    const ref = target
      ? line(left, y(target.value), right, y(target.value), 'class="reference"') +
        text(right + 4, y(target.value) + 4, target.label, 'class="reference-label"')
      : '';
    return svg('frontier', bottom + 40, 'model size against output SQNR', axisY + axisX + ref + body);
  };

  return { escapeHtml, candidateBars, candidateLegend, channelRanges, histogram, frontier };
}
