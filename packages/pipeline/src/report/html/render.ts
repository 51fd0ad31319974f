// The self-contained HTML report: one file, no network. Every chart is SVG drawn here (svg-charts.ts);
// the two charts with a layer selector are drawn again in the browser from the data the page
// embeds, by the same chart code embedded as a script. Everything but the selectors works
// without JavaScript.
import { QgrainError } from '@qgrain/tensor';
import { MAX_HISTOGRAM_BINS, downsampleHistogram } from './histograms.js';
import type { ActivationHistogram, ChannelRanges, HtmlReportData, LayerRow } from './report-data.js';
import { svgCharts } from './svg-charts.js';

/** A number as the page embeds it: 4 significant digits, null for NaN and the infinities. */
function embedded(value: number): number | null {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : null;
}

/** A weight's channel ranges with every number rounded for the page. */
function compactRanges(r: ChannelRanges): ChannelRanges {
  return { ...r, min: r.min.map(embedded) as number[], max: r.max.map(embedded) as number[] };
}

/** An activation histogram at most MAX_HISTOGRAM_BINS wide, its numbers rounded for the page. */
function compactHistogram(h: ActivationHistogram): ActivationHistogram {
  const bins =
    h.counts.length > MAX_HISTOGRAM_BINS
      ? downsampleHistogram(h.counts, h.lowerEdge, h.binWidth)
      : { counts: h.counts, lowerEdge: h.lowerEdge, binWidth: h.binWidth };
  const round = (v: number) => embedded(v) as number;
  return {
    ...h,
    counts: bins.counts.map((c) => Math.round(c)),
    lowerEdge: round(bins.lowerEdge),
    binWidth: round(bins.binWidth),
    range: { min: round(h.range.min), max: round(h.range.max) },
    observed: { min: round(h.observed.min), max: round(h.observed.max) },
  };
}

/**
 * JSON for a `<script type="application/json">` block: nothing in it can end the block or open
 * a comment (`<`, `>` and `&` as \u escapes, which JSON.parse reads back unchanged), and the
 * line separators U+2028/U+2029 are escaped as well.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The weight whose channels differ most: its largest channel magnitude over the median one. */
function widestSpread(ranges: readonly ChannelRanges[]): number {
  let best = 0;
  let bestRatio = -1;
  for (const [i, r] of ranges.entries()) {
    const peaks = r.min
      .map((lo, c) => Math.max(Math.abs(lo), Math.abs(r.max[c]!)))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const median = peaks[peaks.length >> 1] ?? 0;
    const ratio = median > 0 ? peaks[peaks.length - 1]! / median : 0;
    if (ratio > bestRatio) {
      best = i;
      bestRatio = ratio;
    }
  }
  return best;
}

const STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1040px; padding: 24px; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
h1 { font-size: 22px; margin: 0 0 8px; word-break: break-all; }
h2 { font-size: 17px; margin: 32px 0 6px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
p.note, .caption { color: var(--muted); margin: 4px 0 8px; }
.caption b { color: var(--ink); word-break: break-all; }
ul.summary { margin: 0; padding-left: 18px; color: var(--muted); }
dl.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
dl.figures div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
dl.figures dt { color: var(--muted); font-size: 12px; }
dl.figures dd { margin: 0; font-size: 17px; font-weight: 600; }
ul.warnings { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 8px 8px 8px 28px; }
.scroll { max-height: 620px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
svg { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg text { fill: var(--ink); }
svg .title { fill: var(--muted); font-size: 12px; }
svg .grid { stroke: #eaeef2; }
svg .axis { stroke: #8c959f; }
svg .band { fill: var(--band); }
svg .bar.chosen { stroke: #111; stroke-width: 1.5; }
svg[data-chart=channels] .bar { fill: #4e79a7; }
svg[data-chart=channels] .bar.narrow { fill: #f28e2b; }
svg[data-chart=histogram] .bar { fill: #76b7b2; }
svg[data-chart=histogram] .bar.clipped { fill: #e15759; }
svg .reference { stroke: #6e7781; stroke-dasharray: 5 4; }
svg .reference-label, svg .point-label { fill: var(--muted); }
svg .range { stroke: #d62728; stroke-width: 2; }
svg .range-label { fill: #d62728; }
svg .frontier-line { fill: none; stroke: #8c959f; stroke-width: 1.5; }
svg .point { fill: #4e79a7; stroke: #fff; }
svg .point.predicted { fill: #fff; stroke: #4e79a7; stroke-width: 2; }
svg .point.highlight { stroke: #d62728; stroke-width: 2.5; }
.narrow-key { color: #f28e2b; font-weight: 600; }
.depthwise { color: #b07aa1; font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); }
td.name { word-break: break-all; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
label.picker { display: block; margin: 8px 0; }
select { max-width: 100%; font: inherit; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

function planTable(layers: readonly LayerRow[], esc: (text: string) => string): string {
  const db = (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? '-' : v === Number.POSITIVE_INFINITY ? 'inf' : v.toFixed(1);
  // A quantize run gives no reasons (it chooses nothing per tensor): no empty column then.
  const reasons = layers.some((l) => l.reason !== undefined);
  const rows = layers
    .map(
      (l) =>
        `<tr><td class="name">${esc(l.tensor)}</td><td>${l.kind}</td><td>${esc(l.op)}</td><td>${l.depthwise ? 'yes' : ''}</td>` +
        `<td>${esc(l.chosen)}</td><td class="number">${db(l.layerSqnrDb)}</td>${reasons ? `<td>${esc(l.reason ?? '')}</td>` : ''}</tr>`,
    )
    .join('');
  return (
    '<div class="scroll"><table data-table="plan"><thead><tr><th>tensor</th><th>kind</th><th>op</th><th>depthwise</th>' +
    `<th>chosen</th><th>layer output SQNR (dB)</th>${reasons ? '<th>reason</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></div>`
  );
}

/** A selector of one item of `names` and the chart of the selected one, drawn here and again on change. */
function picker(
  id: string,
  label: string,
  names: readonly string[],
  selected: number,
  chart: string,
  esc: (text: string) => string,
): string {
  const options = names
    .map((n, i) => `<option value="${i}"${i === selected ? ' selected' : ''}>${esc(n)}</option>`)
    .join('');
  return (
    `<label class="picker">${label} <select id="${id}-select" data-chart-select="${id}">${options}</select></label>` +
    '<noscript><p class="note">Picking another one needs JavaScript; the chart shows the one selected.</p></noscript>' +
    `<div id="${id}-chart">${chart}</div>`
  );
}

/** The page's script: the chart code (svgCharts' own source) and the selectors' redraw. */
function clientScript(): string {
  // esbuild with keepNames (as tsx runs TypeScript) wraps named functions in its __name helper,
  // which the embedded source then calls: here it is a no-op.
  const script = `(() => {
const __name = (target) => target;
const charts = (${svgCharts.toString()})();
const data = JSON.parse(document.getElementById('qgrain-report-data').textContent);
const hook = (id, list, draw) => {
  const select = document.getElementById(id + '-select');
  const host = document.getElementById(id + '-chart');
  if (!select || !host) return;
  select.addEventListener('change', () => { host.innerHTML = draw(list[Number(select.value)]); });
};
hook('channels', data.channelRanges, charts.channelRanges);
hook('histograms', data.histograms, charts.histogram);
})();`;
  // The chart code is this package's own; this holds unless someone writes one of these into it.
  if (/<\/script|<!--/i.test(script)) {
    throw new QgrainError(
      'internal',
      'report/html/render.ts: the chart script holds text that would end its <script> block',
    );
  }
  return script;
}

/**
 * The report as one HTML page: headline figures and summary, the candidates' SQNR per layer, the
 * plan as a table, per-channel weight ranges and activation histograms (each with a selector),
 * and the size-versus-SQNR frontier. Sections without data are left out. No network: styles,
 * data and script are all in the page, and every name from the model is escaped.
 */
export function renderHtmlReport(data: HtmlReportData): string {
  const charts = svgCharts();
  const esc = charts.escapeHtml;
  const ranges = data.channelRanges.map(compactRanges);
  const histograms = data.histograms.map(compactHistogram);
  const withCandidates = data.layers.filter((l) => l.candidates.length > 0);
  const measuredOutput = withCandidates.some((l) => l.candidates.some((c) => c.outputSqnrDb !== undefined));
  const sections: string[] = [];

  sections.push(
    `<header><h1>${esc(data.title)}</h1><ul class="summary">${data.summary.map((s) => `<li>${esc(s)}</li>`).join('')}</ul></header>`,
  );
  if (data.figures.length > 0) {
    sections.push(
      `<dl class="figures">${data.figures.map((f) => `<div><dt>${esc(f.label)}</dt><dd>${esc(f.value)}</dd></div>`).join('')}</dl>`,
    );
  }
  if (data.warnings && data.warnings.length > 0) {
    sections.push(`<ul class="warnings">${data.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`);
  }
  if (withCandidates.length > 0) {
    const reference = measuredOutput
      ? data.targetSqnrDb === undefined
        ? undefined
        : { value: data.targetSqnrDb, label: `target ${data.targetSqnrDb} dB` }
      : data.weightFloorDb === undefined
        ? undefined
        : { value: data.weightFloorDb, label: `${data.weightFloorDb} dB: int8 broken below` };
    const what = measuredOutput
      ? 'the model output SQNR against float with only that tensor quantized that way'
      : "the weight's own SQNR against its float values";
    sections.push(
      `<section id="candidates"><h2>Candidates per layer</h2><p class="note">One group per layer, one bar per candidate scheme: ${what}. Longer is better; hover a bar for its numbers.</p>` +
        charts.candidateLegend(withCandidates) +
        `<div class="scroll">${charts.candidateBars(withCandidates, measuredOutput ? 'outputSqnrDb' : 'localSqnrDb', reference)}</div></section>`,
    );
  }
  if (data.layers.length > 0) {
    sections.push(
      `<section id="plan"><h2>The plan</h2><p class="note">What each quantized tensor got, and the SQNR measured at its layer's output on held-back data where it was.</p>${planTable(data.layers, esc)}</section>`,
    );
  }
  if (ranges.length > 0) {
    const first = widestSpread(ranges);
    sections.push(
      '<section id="channels"><h2>Per-channel weight ranges</h2><p class="note">Each bar spans one output channel\'s smallest to largest weight. One per-tensor scale must cover the widest channel, so narrow channels get only a few of the int8 steps: that is where per-tensor quantization breaks and per-channel scales help. The weight shown first is the one whose channels differ most.</p>' +
        picker(
          'channels',
          'Weight',
          ranges.map(
            (r) => `${r.weight} (${r.op}${r.depthwise ? ', depthwise' : ''}, ${r.min.length} channels)`,
          ),
          first,
          charts.channelRanges(ranges[first]!),
          esc,
        ) +
        '</section>',
    );
  }
  if (histograms.length > 0) {
    sections.push(
      '<section id="histograms"><h2>Activation histograms</h2><p class="note">Counts on a log scale, with the range calibration chose for the tensor (red lines); values beyond it saturate.</p>' +
        picker(
          'histograms',
          'Activation',
          histograms.map((h) => `${h.tensor} (${h.method})`),
          0,
          charts.histogram(histograms[0]!),
          esc,
        ) +
        '</section>',
    );
  }
  if (data.frontier && data.frontier.length > 0) {
    const target =
      data.targetSqnrDb === undefined
        ? undefined
        : { value: data.targetSqnrDb, label: `target ${data.targetSqnrDb} dB` };
    sections.push(
      '<section id="frontier"><h2>Size against accuracy</h2><p class="note">Each plan as model file size and output SQNR on held-back data; circles are predicted from per-tensor measurements, squares measured on the built model. The line joins the plans no smaller plan beats.</p>' +
        charts.frontier(data.frontier, target) +
        '</section>',
    );
  }
  const embeddedData = scriptJson({ channelRanges: ranges, histograms });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${sections.join('\n')}
<footer>Written by qgrain. This page is self-contained: it loads nothing from the network.</footer>
<script type="application/json" id="qgrain-report-data">${embeddedData}</script>
<script>${clientScript()}</script>
</body>
</html>
`;
}
