import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '@qgrain/pipeline';
import {
  MODEL_TABLE,
  TABLE_MODE_FLAGS,
  type TableMode,
  modelTableMarkdown,
  ocrDataPath,
  realModel,
} from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { leadingSamples, readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';

/** Text lines of the OCR calibration set the rec and cls rows read. */
const REC_LINES = 8;

let work: string;
const tokens: Record<string, string> = {};
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-table-'));
  tokens['{rec-lines}'] = join(work, 'rec-lines.npy');
  writeFileSync(
    tokens['{rec-lines}'],
    encodeNpy(leadingSamples(readOcrArray('calibration', 'calib_rec.npy.gz'), REC_LINES)),
  );
  // The calibration set's images folder holds the det pages (det_*.png) beside the rec lines.
  tokens['{det-pages}'] = ocrDataPath('calibration', 'images');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = capturedIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

type JsonNumber = number | 'inf' | '-inf' | null;
const toNumber = (v: JsonNumber): number =>
  v === 'inf' ? Number.POSITIVE_INFINITY : v === '-inf' ? Number.NEGATIVE_INFINITY : (v ?? Number.NaN);

describe('the regression table in the docs', () => {
  it('README.md shows the table pnpm models:table prints', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(modelTableMarkdown());
  });
});

describe.each(MODEL_TABLE)('regression table: $id', (row) => {
  const path = realModel(row.id).path;
  const data = () => [...row.data.flatMap((d) => ['--data', tokens[d] ?? d]), ...(row.flags ?? [])];

  it('inspect and prepare run, and compare --layerwise finds float against float exact everywhere', async () => {
    const inspected = await run(['inspect', path, '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    const prepared = await run(['prepare', path, '-o', join(work, `${row.id}-prepared.onnx`)]);
    expect(prepared.code, prepared.stderr).toBe(0);
    const compared = await run(['compare', path, path, ...data(), '--layerwise', '--json']);
    expect(compared.code, compared.stderr).toBe(0);
    const doc = JSON.parse(compared.stdout) as {
      outputs: { sqnr_db: JsonNumber }[];
      layers: { sqnr_db: JsonNumber }[];
    };
    // Every intermediate of the main graph is compared; a main graph of one If (silero v5, v6,
    // ifless) has none, since onnxruntime gives no values from inside bodies.
    expect([...doc.outputs, ...doc.layers].every((t) => t.sqnr_db === 'inf')).toBe(true);
  });

  it.each(Object.entries(row.expect) as [TableMode, NonNullable<(typeof row.expect)[TableMode]>][])(
    '%s meets its stored expectation',
    async (mode, want) => {
      const out = join(work, `${row.id}-${mode.replace(/\W+/g, '-')}.onnx`);
      const result = await run(['quantize', path, '-o', out, ...data(), ...TABLE_MODE_FLAGS[mode], '--json']);
      expect(result.code, result.stderr).toBe(0);
      const doc = JSON.parse(result.stdout) as {
        layers: { weight: string }[];
        size: { ratio: number };
        model_output_sqnr_db: Record<string, JsonNumber>;
        warnings: string[];
      };
      const weights = new Set(doc.layers.map((l) => l.weight)).size;
      const sqnr = Object.values(doc.model_output_sqnr_db).map(toNumber);
      const worst = Math.min(...sqnr);
      console.log(
        `${row.id} ${mode}: ${weights} weights, size ${(doc.size.ratio * 100).toFixed(1)}%, output SQNR ${worst.toFixed(1)} dB` +
          (weights === 0 ? ` (${doc.warnings.find((w) => w.startsWith('no weight quantized'))})` : ''),
      );
      expect(weights).toBe(want.weights);
      // The output was measured by running the quantized model in onnxruntime on the row's data.
      expect(sqnr.length).toBeGreaterThan(0);
      if (want.weights === 0) {
        expect(doc.warnings.some((w) => w.startsWith('no weight quantized'))).toBe(true);
        return;
      }
      expect(doc.size.ratio).toBeLessThanOrEqual(want.maxSizeShare);
      expect(worst).toBeGreaterThanOrEqual(want.minOutputSqnrDb);
    },
  );
});
