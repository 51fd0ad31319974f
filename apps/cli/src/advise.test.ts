import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQuantSpec, qparamsFromRanges } from '@qgrain/granularity';
import type { PlanDocument } from '@qgrain/pipeline';
import { SKIP_BROWSER, launchChromium, ocrDataPath, realModel } from '@qgrain/test-harness';
import { pathToFileURL } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { main } from './program.js';

// advise -> plan -> quantize --plan on PP-OCR cls, calibrated on the repository's text-line
// renders (the cls input is a 48x192 line, as rec's are 48x320), then the plan's guarantees.
const cls = realModel('ppocr-cls').path;
const rec = realModel('ppocr-v4-rec').path;
const data = [
  '--data',
  ocrDataPath('calibration', 'images'),
  '--filter',
  'rec_*.png',
  '--preprocess',
  'size=48x192,keep-aspect,pad=0,mean=0.5,std=0.5',
];
const TARGET_DB = 25;

// cls with a quick candidate set: the advise run every test here reads.
const ADVISE_CLS = [
  'advise',
  cls,
  ...data,
  '--target-sqnr',
  String(TARGET_DB),
  '--activations-candidates',
  'uint8,float',
  '--methods',
  'minmax,mse',
];

let work: string;
let planPath: string;
let plan: PlanDocument;
let adviseStderr: string;

async function run(args: string[]) {
  const io = capturedIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-advise-'));
  planPath = join(work, 'cls-plan.json');
  const advised = await run([...ADVISE_CLS, '-o', planPath, '--report', join(work, 'cls-report.html')]);
  adviseStderr = advised.stderr;
  expect(advised.code, advised.stderr).toBe(0);
  plan = JSON.parse(readFileSync(planPath, 'utf8')) as PlanDocument;
}, 600_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('qgrain advise', () => {
  it('writes a plan for every planned tensor, with the measurements that chose each', () => {
    expect(plan.format).toBe('qgrain-plan/1');
    expect(plan.model).toBe('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const weights = Object.values(plan.weights);
    expect(weights.length).toBeGreaterThan(20);
    for (const w of weights) {
      expect(['int8/per-tensor', 'int8/per-channel']).toContain(w.scheme);
      expect(w.candidates.map((c) => c.candidate)).toEqual(['int8/per-tensor', 'int8/per-channel']);
      // per-channel costs more bytes and never less SQNR of the weight itself
      const [pt, pc] = w.candidates;
      expect(pc!.bytes).toBeGreaterThan(pt!.bytes);
      expect(pc!.local_sqnr_db ?? Number.POSITIVE_INFINITY).toBeGreaterThanOrEqual(pt!.local_sqnr_db!);
    }
    for (const a of Object.values(plan.activations)) {
      expect(['uint8/per-tensor', 'float']).toContain(a.scheme);
      if (a.scheme !== 'float') {
        expect(['minmax', 'mse']).toContain(a.method);
        expect(a.range!.min).toBeLessThanOrEqual(a.range!.max);
      }
    }
    // The built model was measured on held-back data and reached the target.
    const worst = Math.min(
      ...Object.values(plan.measured!.output_sqnr_db).map((v) => v ?? Number.POSITIVE_INFINITY),
    );
    expect(worst).toBeGreaterThanOrEqual(TARGET_DB);
    expect(adviseStderr).toMatch(/predicted output SQNR [\d.]+ dB; measured/);
  });

  it('puts a weight per channel only where per tensor would break the target', () => {
    // Each upgraded weight says what per tensor would do there; the reason must name the target
    // and an SQNR under it.
    for (const [name, w] of Object.entries(plan.weights)) {
      if (w.scheme === 'int8/per-tensor') {
        expect(w.reason, name).toBe('cheapest option; fits the budget');
        continue;
      }
      const said = /take the output to ([\d.]+) dB, under the ([\d.]+) dB/.exec(w.reason);
      expect(said, `${name}: ${w.reason}`).not.toBeNull();
      expect(Number(said![1])).toBeLessThan(Number(said![2]));
    }
  });

  it('quantize --plan applies the plan exactly, and onnxruntime runs the result', async () => {
    const output = join(work, 'cls-advised.onnx');
    const report = join(work, 'cls-advised.json');
    const q = await run(['quantize', cls, '--plan', planPath, '-o', output, '--report', report]);
    expect(q.code, q.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(report, 'utf8')) as {
      layers: { weight: string; scheme: string }[];
      activations: { tensor: string; scheme: string; scale: number; zero_point: number }[];
      settings: { method: string };
    };
    expect(doc.settings.method).toBe('plan');
    const weightSchemes = Object.fromEntries(doc.layers.map((l) => [l.weight, l.scheme]));
    expect(weightSchemes).toEqual(
      Object.fromEntries(Object.entries(plan.weights).map(([n, w]) => [n, w.scheme])),
    );
    const quantizedActivations = Object.entries(plan.activations).filter(([, a]) => a.scheme !== 'float');
    expect(doc.activations.map((a) => a.tensor).sort()).toEqual(quantizedActivations.map(([n]) => n).sort());
    for (const a of doc.activations) {
      const planned = plan.activations[a.tensor]!;
      expect(a.scheme).toBe(planned.scheme);
      const qp = qparamsFromRanges(
        [planned.range!.min],
        [planned.range!.max],
        parseQuantSpec(planned.scheme),
        [],
      );
      expect(a.scale).toBe(qp.scale[0]);
      expect(a.zero_point).toBe(qp.zeroPoint[0]);
    }
    const session = await ort.InferenceSession.create(output);
    const x = new ort.Tensor('float32', new Float32Array(3 * 48 * 192).fill(0.1), [1, 3, 48, 192]);
    const out = await session.run({ [session.inputNames[0]!]: x });
    expect(Object.values(out)[0]!.data.length).toBe(2);
    await session.release();
  });

  it('refuses a plan made for another model, naming both', async () => {
    const q = await run(['quantize', rec, '--plan', planPath, '-o', join(work, 'rec.onnx')]);
    expect(q.code).toBe(1);
    expect(q.stderr).toContain('was made for another model');
    expect(q.stderr).toContain('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    expect(q.stderr).toContain('qgrain advise');
  });

  it('refuses a plan whose tensors the model does not have, naming the tensor', async () => {
    const forged = structuredClone(plan) as { weights: Record<string, unknown> };
    const [first] = Object.keys(forged.weights);
    forged.weights['no_such_weight'] = forged.weights[first!];
    delete forged.weights[first!];
    const path = join(work, 'forged.json');
    writeFileSync(path, JSON.stringify(forged));
    const q = await run(['quantize', cls, '--plan', path, '-o', join(work, 'forged.onnx')]);
    expect(q.code).toBe(1);
    expect(q.stderr).toContain("weight 'no_such_weight'");
  });

  it('measures on this thread alone with --threads 1, and plans the same tensors', async () => {
    const alone = join(work, 'cls-plan-one-thread.json');
    const q = await run([...ADVISE_CLS, '--threads', '1', '-o', alone]);
    expect(q.code, q.stderr).toBe(0);
    const other = JSON.parse(readFileSync(alone, 'utf8')) as PlanDocument;
    expect(Object.keys(other.weights).sort()).toEqual(Object.keys(plan.weights).sort());
    expect(Object.keys(other.activations).sort()).toEqual(Object.keys(plan.activations).sort());
    expect(q.stderr).toMatch(/time by stage: calibrate [\d.]+ s, options [\d.]+ s, measure [\d.]+ s/);
  }, 600_000);

  it('refuses bad advise options before reading anything (exit 2)', async () => {
    for (const args of [
      ['--target-sqnr', '20', '--weights-candidates', 'int8/per-bogus'],
      ['--target-sqnr', '20', '--activations-candidates', 'int8/per-channel'],
      ['--target-sqnr', '20', '--methods', 'moving-average'],
      [],
      ['--target-sqnr', '20', '--max-size', '30%'],
      ['--target-sqnr', '20', '--threads', '0'],
    ]) {
      const q = await run(['advise', cls, ...data, '-o', join(work, 'never.json'), ...args]);
      expect(q.code, `${args.join(' ')}: ${q.stderr}`).toBe(2);
    }
  });

  it.skipIf(SKIP_BROWSER)('writes an HTML report that headless chromium draws without an error', async () => {
    const html = join(work, 'cls-report.html');
    expect(statSync(html).size).toBeLessThan(2_000_000);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      const url = pathToFileURL(html).href;
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => {
        if (r.url() !== url) problems.push(`request: ${r.url()}`);
      });
      await page.goto(url);
      // One bar per candidate of every measured tensor, one outlined per tensor.
      const measuredWeights = Object.values(plan.weights).filter((w) => w.candidates.length > 0);
      const measuredActivations = Object.values(plan.activations).filter((a) => a.candidates.length > 0);
      const candidates = [...measuredWeights, ...measuredActivations].reduce(
        (n, t) => n + t.candidates.length,
        0,
      );
      expect(await page.locator('svg[data-chart=candidates] rect.bar').count()).toBe(candidates);
      expect(await page.locator('svg[data-chart=candidates] rect.bar.chosen').count()).toBe(
        measuredWeights.length + measuredActivations.length,
      );
      expect(await page.locator('table[data-table=plan] tbody tr').count()).toBe(
        Object.keys(plan.weights).length + Object.keys(plan.activations).length,
      );
      // The frontier: the advised model and the two all-one-scheme references, labelled.
      for (const highlight of ['advised', 'all-per-tensor', 'all-per-channel'])
        expect(
          await page.locator(`svg[data-chart=frontier] .point.highlight.${highlight}`).count(),
          highlight,
        ).toBe(1);
      expect(await page.locator('svg[data-chart=channels] rect.bar').count()).toBeGreaterThan(0);
      expect(await page.locator('svg[data-chart=histogram] line.range').count()).toBe(2);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
