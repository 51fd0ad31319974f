import { prepareModel, readInt, readModel } from '@qgrain/onnx';
import { realModel } from '@qgrain/test-harness';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { WEIGHT_SQNR_FLOOR_DB, jsonNumber, median } from '@qgrain/pipeline';
import { main } from './program.js';

interface WeightJson {
  name: string;
  op: string;
  shape: number[];
  depthwise: boolean;
  float_bytes: number;
  sqnr_db: Record<string, number | 'inf'>;
  bytes: Record<string, number>;
  verdict: string;
}

interface InspectJson {
  backend: string;
  schemes: string[];
  weights: WeightJson[];
  totals: { weights: number };
  ops: Record<string, number>;
}

// The gap the granularity lesson rests on: per-channel int8 must beat per-tensor by at least this
// much (median over conv weights) on PP-OCRv4 rec, or the demo shows nothing worth seeing.
const MIN_CHANNEL_GAIN_DB = 5;

const rec = realModel('ppocr-v4-rec').path;

async function inspectJsonOf(...args: string[]): Promise<InspectJson> {
  const io = capturedIO();
  const code = await main([...args, 'inspect', '--json', rec], io);
  expect(io.stderr()).toBe('');
  expect(code).toBe(0);
  return JSON.parse(io.stdout()) as InspectJson;
}

const asDb = (v: number | 'inf'): number => (v === 'inf' ? Number.POSITIVE_INFINITY : v);

describe('qgrain inspect on PP-OCRv4 rec', () => {
  let doc: InspectJson;
  // Weight name -> the `group` attribute of the node reading it, from an independent prepare.
  const groups = new Map<string, number>();
  beforeAll(async () => {
    doc = await inspectJsonOf();
    const model = await readModel(rec);
    prepareModel(model, { foldBatchNorm: true });
    for (const node of model.graph.nodes) {
      if (!['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(node.opType)) continue;
      const init = model.graph.initializer(node.input[1]!);
      if (init?.dtype === 'float32' && init.dims.length >= 2)
        groups.set(init.name, readInt(node, 'group', 1));
    }
  });

  it('lists exactly the float constant weights of Conv/ConvTranspose/Gemm/MatMul after prepare', () => {
    expect(new Set(doc.weights.map((w) => w.name))).toEqual(new Set(groups.keys()));
    expect(doc.totals.weights).toBe(groups.size);
    // The BN-folded weights are the ones measured, not the originals.
    expect(doc.weights.some((w) => w.name.endsWith('_bn_folded'))).toBe(true);
  });

  it('flags depthwise convolutions, and only them', () => {
    const depthwise = doc.weights.filter((w) => w.depthwise);
    expect(depthwise.length).toBeGreaterThan(0);
    for (const w of doc.weights)
      expect(w.depthwise).toBe(w.op === 'Conv' && w.shape[1] === 1 && groups.get(w.name)! > 1);
  });

  it('gives SQNR and bytes for every scheme, with sizes in the order the bit widths imply', () => {
    expect(doc.schemes).toEqual([
      'int8/per-tensor',
      'int8/per-channel',
      'int8/per-block:32',
      'int4/per-block:32',
    ]);
    for (const w of doc.weights) {
      for (const s of doc.schemes) {
        const db = w.sqnr_db[s]!;
        expect(db === 'inf' || Number.isFinite(db)).toBe(true);
      }
      expect(w.bytes['int8/per-tensor']!).toBeLessThan(w.bytes['int8/per-channel']!);
      expect(w.bytes['int4/per-block:32']!).toBeLessThan(w.bytes['int8/per-tensor']!);
      expect(w.bytes['int8/per-channel']!).toBeLessThan(w.float_bytes);
      const tensor = asDb(w.sqnr_db['int8/per-tensor']!);
      const channel = asDb(w.sqnr_db['int8/per-channel']!);
      const expected =
        channel < WEIGHT_SQNR_FLOOR_DB
          ? 'per-channel-breaks'
          : tensor < WEIGHT_SQNR_FLOOR_DB
            ? 'per-tensor-breaks'
            : 'holds';
      expect(w.verdict).toBe(expected);
    }
  });

  it(`per-channel int8 beats per-tensor by >= ${MIN_CHANNEL_GAIN_DB} dB (median over conv weights)`, () => {
    const convs = doc.weights.filter((w) => w.op === 'Conv');
    const tensor = median(convs.map((w) => asDb(w.sqnr_db['int8/per-tensor']!)));
    const channel = median(convs.map((w) => asDb(w.sqnr_db['int8/per-channel']!)));
    console.log(
      `PP-OCRv4 rec, ${convs.length} conv weights: median SQNR int8/per-tensor ${tensor.toFixed(2)} dB, int8/per-channel ${channel.toFixed(2)} dB`,
    );
    expect(channel - tensor).toBeGreaterThanOrEqual(MIN_CHANNEL_GAIN_DB);
  });

  it('prints a table with one row per weight and the verdict', async () => {
    const io = capturedIO();
    expect(await main(['inspect', rec], io)).toBe(0);
    const text = io.stdout();
    expect(text).toMatch(/^weight +op +shape +dw +t8 dB +c8 dB/m);
    for (const w of doc.weights)
      expect(text).toMatch(
        new RegExp(`^${w.name.replace(/\./g, '\\.')} +${w.op} +${w.shape.join('x')} `, 'm'),
      );
    expect(text).toMatch(/^verdict {5}int8\/per-tensor (breaks|holds)/m);
    expect(text).toMatch(
      new RegExp(`^nodes {7}${Object.values(doc.ops).reduce((a, b) => a + b, 0)} total`, 'm'),
    );
  });

  it('--backend js and --backend wasm give the same numbers', async () => {
    const js = await inspectJsonOf('--backend', 'js');
    const wasm = await inspectJsonOf('--backend', 'wasm');
    expect(js.backend).toBe('js');
    expect(wasm.backend).toBe('wasm');
    expect(wasm.weights).toEqual(js.weights);
  });
});

describe('inspect helpers', () => {
  it('writes infinities as "inf" and unmeasured values as null in JSON', () => {
    expect(jsonNumber(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(jsonNumber(Number.NEGATIVE_INFINITY)).toBe('-inf');
    expect(jsonNumber(Number.NaN)).toBeNull();
    expect(jsonNumber(41.5)).toBe(41.5);
  });

  it('takes the median with exact (infinite) values sorted last', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY])).toBe(Number.POSITIVE_INFINITY);
    expect(median([1, 2, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY])).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});
