import { describe, expect, it } from 'vitest';
import { downsampleHistogram } from './histograms.js';
import { renderHtmlReport, scriptJson } from './render.js';
import type { HtmlReportData } from './report-data.js';
import { svgCharts } from './svg-charts.js';

const HOSTILE = '</script><img src=x onerror="alert(1)"><!-- \u2028\u2029 & \'';

/** A small report with every section, one layer named to break out of any context it lands in. */
function sample(name = HOSTILE): HtmlReportData {
  return {
    title: `qgrain advise: ${name}`,
    summary: [`model ${name}`],
    figures: [{ label: 'output SQNR', value: '31.2 dB' }],
    layers: [
      {
        tensor: name,
        kind: 'weight',
        nodes: ['conv'],
        op: 'Conv',
        depthwise: true,
        chosen: 'int8/per-channel',
        candidates: [
          { candidate: 'int8/per-tensor', outputSqnrDb: 12.5, bytes: 100 },
          { candidate: 'int8/per-channel', outputSqnrDb: 35, bytes: 116, chosen: true },
          { candidate: 'float', outputSqnrDb: Number.POSITIVE_INFINITY, bytes: 400 },
        ],
        reason: name,
      },
      {
        tensor: 'x',
        kind: 'activation',
        nodes: ['conv'],
        op: 'Conv',
        chosen: 'uint8/per-tensor mse',
        candidates: [{ candidate: 'uint8 mse', outputSqnrDb: 40 }],
      },
    ],
    channelRanges: [
      {
        weight: name,
        node: 'conv',
        op: 'Conv',
        depthwise: true,
        axis: 0,
        min: [-1, -0.01, -0.5],
        max: [1, 0.02, 0.25],
      },
      { weight: 'w2', node: 'conv2', op: 'Conv', depthwise: false, axis: 0, min: [-1, -2], max: [1, 2] },
    ],
    histograms: [
      {
        tensor: name,
        lowerEdge: 0,
        binWidth: 0.5,
        counts: [10, 0, 3, 1],
        magnitude: true,
        range: { min: 0, max: 1.5 },
        method: 'mse',
        observed: { min: 0, max: 1.9 },
      },
      {
        tensor: 'y',
        lowerEdge: -1,
        binWidth: 0.25,
        counts: [1, 2, 3, 4, 5, 6, 7, 8],
        magnitude: false,
        range: { min: -0.9, max: 0.8 },
        method: 'percentile:99.999',
        observed: { min: -1, max: 1 },
      },
    ],
    frontier: [
      {
        label: 'all per-tensor',
        bytes: 1_000_000,
        outputSqnrDb: 12,
        source: 'measured',
        highlight: 'all-per-tensor',
      },
      {
        label: 'all per-channel',
        bytes: 1_020_000,
        outputSqnrDb: 30,
        source: 'measured',
        highlight: 'all-per-channel',
      },
      { label: 'advised', bytes: 1_010_000, outputSqnrDb: 31, source: 'predicted', highlight: 'advised' },
      { label: 'p', bytes: 1_015_000, outputSqnrDb: 20, source: 'predicted' },
    ],
    targetSqnrDb: 30,
    warnings: [name],
  };
}

const count = (html: string, pattern: RegExp) => html.match(pattern)?.length ?? 0;

/** The JSON the page embeds for its script. */
function embeddedJson(html: string): string {
  const match = /<script type="application\/json" id="qgrain-report-data">([\s\S]*?)<\/script>/.exec(html);
  return match![1]!;
}

describe('renderHtmlReport', () => {
  it('escapes names everywhere: a tensor named </script><img ...> cannot end a block or add an element', () => {
    const html = renderHtmlReport(sample());
    // The page's own two script blocks, and nothing else of the kind.
    expect(count(html, /<script/gi)).toBe(2);
    expect(count(html, /<\/script/gi)).toBe(2);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain('<!-- ');
    expect(html).not.toMatch(/[\u2028\u2029]/);
    // The embedded data reads back exactly, hostile name included.
    const data = JSON.parse(embeddedJson(html)) as {
      channelRanges: { weight: string }[];
      histograms: { tensor: string }[];
    };
    expect(data.channelRanges[0]!.weight).toBe(HOSTILE);
    expect(data.histograms[0]!.tensor).toBe(HOSTILE);
    // In HTML the name is shown as text.
    expect(html).toContain('&#60;/script&#62;&#60;img src=x onerror=&#34;alert(1)&#34;&#62;');
  });

  it('scriptJson leaves nothing that ends a script block or starts a comment, and parses back unchanged', () => {
    const value = { a: HOSTILE, b: ['<!--', '-->', '</SCRIPT >', '\u2028'] };
    const text = scriptJson(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('draws one bar per candidate, channel and non-empty bin, one mark per frontier point', () => {
    const data = sample('conv.w');
    const html = renderHtmlReport(data);
    const chart = (name: string) =>
      new RegExp(`<svg[^>]*data-chart="${name}"[\\s\\S]*?</svg>`).exec(html)![0];
    const bars = (svg: string) => count(svg, /<rect class="bar[ "]/g);
    expect(bars(chart('candidates'))).toBe(4);
    expect(count(chart('candidates'), /class="bar chosen"/g)).toBe(1);
    expect(count(chart('candidates'), /class="reference"/g)).toBe(1);
    // The first weight shown is the one whose channels differ most (conv.w: 1 against 0.02).
    expect(bars(chart('channels'))).toBe(3);
    expect(bars(chart('histogram'))).toBe(3);
    expect(count(chart('histogram'), /class="range"/g)).toBe(2);
    expect(count(chart('frontier'), /class="point /g)).toBe(4);
    expect(count(chart('frontier'), /class="point-label"/g)).toBe(3);
    // The table: a row per layer.
    expect(count(html, /<tr><td class="name">/g)).toBe(2);
  });

  it('leaves out sections without data, and loads nothing from the network', () => {
    const html = renderHtmlReport({
      title: 't',
      summary: [],
      figures: [],
      layers: [],
      channelRanges: [],
      histograms: [],
    });
    // The page's script holds the chart code; the page itself draws nothing.
    const page = html.replace(/<script[\s\S]*?<\/script>/g, '');
    expect(page).not.toContain('<svg');
    expect(page).not.toContain('<table');
    for (const page of [html, renderHtmlReport(sample('conv.w'))]) {
      expect(page).not.toMatch(/\b(src|href)=/i);
      expect(page).not.toMatch(/url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    }
  });

  it('embeds chart code that refers to nothing outside itself and draws what the module draws', () => {
    const data = sample();
    // As the page runs it: the function's source alone.
    const embedded = new Function(`return (${svgCharts.toString()})();`)() as ReturnType<typeof svgCharts>;
    const here = svgCharts();
    expect(embedded.channelRanges(data.channelRanges[1]!)).toBe(here.channelRanges(data.channelRanges[1]!));
    expect(embedded.histogram(data.histograms[1]!)).toBe(here.histogram(data.histograms[1]!));
  });

  it('rounds embedded numbers to 4 significant digits and non-finite ones to null', () => {
    const data = sample('w');
    const html = renderHtmlReport({
      ...data,
      channelRanges: [
        {
          ...data.channelRanges[0]!,
          min: [-0.123456789, Number.NEGATIVE_INFINITY, 1],
          max: [0.98765432, 1, 2],
        },
      ],
    });
    const parsed = JSON.parse(embeddedJson(html)) as {
      channelRanges: { min: (number | null)[]; max: number[] }[];
    };
    expect(parsed.channelRanges[0]!.min).toEqual([-0.1235, null, 1]);
    expect(parsed.channelRanges[0]!.max).toEqual([0.9877, 1, 2]);
  });
});

describe('downsampleHistogram', () => {
  it('cuts the empty ends, merges to at most the bins asked for and keeps every count', () => {
    const counts = new Float64Array(2048);
    for (let i = 100; i < 1100; i++) counts[i] = i % 7;
    const out = downsampleHistogram(counts, -8, 0.01, 128);
    expect(out.counts.length).toBeLessThanOrEqual(128);
    expect(out.counts.reduce((a, b) => a + b)).toBe(counts.reduce((a, b) => a + b));
    // Bin 100 holds 100 % 7 = 2 > 0, so the first bin kept starts at its edge.
    expect(out.lowerEdge).toBeCloseTo(-8 + 100 * 0.01, 12);
    expect(out.binWidth).toBeCloseTo(0.01 * Math.ceil(999 / 128), 12);
    expect(downsampleHistogram([0, 0], 0, 1).counts).toEqual([]);
    expect(downsampleHistogram([0, 5, 0, 2, 0], 0, 1)).toEqual({
      counts: [5, 0, 2],
      lowerEdge: 1,
      binWidth: 1,
    });
  });
});
