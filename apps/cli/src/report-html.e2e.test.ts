// `qgrain quantize --report-html` on PP-OCRv4 det, calibrated on the repository's det pages, and
// the page it writes opened from a file:// URL in Debian's headless chromium: no console or page
// error, no request beyond the file itself, every chart drawn with as many bars as its data has,
// the selectors redraw, and the file stays under 2 MB. The screenshot is the one the docs show.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ActivationHistogram,
  type ChannelRanges,
  INSPECT_SCHEMES,
  type QuantizationReportDocument,
  encodeNpy,
} from '@qgrain/pipeline';
import { SKIP_BROWSER, launchChromium, realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';

/** The screenshot the CLI tutorial and README show. */
const SCREENSHOT = resolve(import.meta.dirname, '../../docs/pages/public/screenshots/report-html.png');

/** The acceptance bound on the det report. */
const MAX_REPORT_BYTES = 2_000_000;

type Browser = Awaited<ReturnType<typeof launchChromium>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;

/** What the page embeds for its selectable charts. */
interface EmbeddedData {
  readonly channelRanges: readonly ChannelRanges[];
  readonly histograms: readonly ActivationHistogram[];
}

describe.skipIf(SKIP_BROWSER)('qgrain quantize --report-html on PP-OCRv4 det, in headless chromium', () => {
  let work: string;
  let html: string;
  let doc: QuantizationReportDocument;
  let data: EmbeddedData;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'qgrain-report-html-'));
    // The eight det pages of data/ocr-calibration: seven calibrate, one is held back to measure.
    const pages = join(work, 'det.npy');
    writeFileSync(pages, encodeNpy(readOcrArray('calibration', 'calib_det.npy.gz')));
    html = join(work, 'reports', 'det.html');
    const json = join(work, 'det.json');
    const io = capturedIO();
    const args = ['quantize', realModel('ppocr-v4-det').path, '-o', join(work, 'det-int8.onnx')];
    const code = await main(
      [...args, '--data', pages, '--holdout', '1', '--report', json, '--report-html', html],
      io,
    );
    expect(code, io.stderr()).toBe(0);
    doc = JSON.parse(readFileSync(json, 'utf8')) as QuantizationReportDocument;

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const url = pathToFileURL(html).href;
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (request.url() !== url) problems.push(`request: ${request.url()}`);
    });
    await page.goto(url);
    data = JSON.parse((await page.locator('#qgrain-report-data').textContent()) ?? 'null') as EmbeddedData;
  });

  afterAll(async () => {
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is one file under 2 MB', () => {
    expect(statSync(html).size).toBeLessThan(MAX_REPORT_BYTES);
  });

  it('draws a bar per candidate of every weight, the chosen one outlined, and a table row per tensor', async () => {
    const weights = new Set(doc.layers.map((l) => l.weight));
    const bars = page.locator('svg[data-chart=candidates] rect.bar');
    expect(await bars.count()).toBe(weights.size * INSPECT_SCHEMES.length);
    expect(await page.locator('svg[data-chart=candidates] rect.bar.chosen').count()).toBe(weights.size);
    expect(await page.locator('table[data-table=plan] tbody tr').count()).toBe(
      weights.size + doc.activations.length,
    );
    // A quantize run has no frontier (that is the advisor's).
    expect(await page.locator('svg[data-chart=frontier]').count()).toBe(0);
  });

  it('draws the channel ranges of the weight selected, and redraws for another', async () => {
    expect(data.channelRanges.length).toBe(new Set(doc.layers.map((l) => l.weight)).size);
    const select = page.locator('#channels-select');
    const channelsOf = async () => page.locator('svg[data-chart=channels] rect.bar').count();
    const shown = Number(await select.inputValue());
    expect(await channelsOf()).toBe(data.channelRanges[shown]!.min.length);
    // Another weight with another channel count, so that the redraw is seen.
    const other = data.channelRanges.findIndex((r) => r.min.length !== data.channelRanges[shown]!.min.length);
    await select.selectOption(String(other));
    expect(await channelsOf()).toBe(data.channelRanges[other]!.min.length);
    expect(await page.locator('#channels-chart .caption').textContent()).toContain(
      data.channelRanges[other]!.weight,
    );
    await select.selectOption(String(shown));
  });

  it('draws the histogram of the activation selected, with its range, and redraws for another', async () => {
    expect(data.histograms.length).toBe(doc.activations.filter((a) => a.method !== 'fixed').length);
    const select = page.locator('#histograms-select');
    const barsOf = (h: ActivationHistogram) => h.counts.filter((c) => c > 0).length;
    const shown = Number(await select.inputValue());
    const bars = page.locator('svg[data-chart=histogram] rect.bar');
    expect(await bars.count()).toBe(barsOf(data.histograms[shown]!));
    expect(await page.locator('svg[data-chart=histogram] line.range').count()).toBe(2);
    const other = data.histograms.findIndex((h) => barsOf(h) !== barsOf(data.histograms[shown]!));
    await select.selectOption(String(other));
    expect(await bars.count()).toBe(barsOf(data.histograms[other]!));
    expect(await page.locator('#histograms-chart .caption').textContent()).toContain(
      data.histograms[other]!.tensor,
    );
    await select.selectOption(String(shown));
  });

  it('saves the screenshot the docs show', async () => {
    const shot = await page.screenshot({ fullPage: true, animations: 'disabled' });
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    // Rewritten only when the page looks different, so a test run leaves the tree clean.
    let old: Buffer | undefined;
    try {
      old = readFileSync(SCREENSHOT);
    } catch {}
    if (!old?.equals(shot)) writeFileSync(SCREENSHOT, shot);
    expect(shot.length).toBeGreaterThan(10_000);
  });

  it('logged no console errors or page errors, and requested nothing', () => {
    expect(problems).toEqual([]);
  });
});
