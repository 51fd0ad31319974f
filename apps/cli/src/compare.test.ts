import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '@qgrain/pipeline';
import { realModel } from '@qgrain/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedIO } from '../test/captured-io.js';
import { leadingSamples, readOcrArray } from '../test/ocr-test-data.js';
import { main } from './program.js';

let work: string;
const data: Record<string, string> = {};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'qgrain-compare-'));
  for (const [set, count] of [
    ['det', 2],
    ['rec', 8],
  ] as const) {
    const path = join(work, `${set}.npy`);
    writeFileSync(path, encodeNpy(leadingSamples(readOcrArray('calibration', `calib_${set}.npy.gz`), count)));
    data[set] = path;
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = capturedIO();
  const code = await main(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

interface Row {
  name: string;
  node: string;
  op: string;
  depthwise: boolean;
  sqnr_db: number | string;
}

describe.each([
  ['ppocr-v4-det', 'det'],
  ['ppocr-v4-rec', 'rec'],
])('qgrain compare --layerwise on %s', (id, set) => {
  it('shows the output SQNR fall with int8/per-tensor weights and names the first layers where it falls', async () => {
    const float = realModel(id).path;
    const results: Record<string, { outputs: Row[]; layers: Row[]; first_below_threshold: Row | null }> = {};
    for (const weights of ['int8/per-channel', 'int8/per-tensor']) {
      const out = join(work, `${set}-${weights.replace('/', '-')}.onnx`);
      expect(
        (await run(['quantize', float, '-o', out, '--data', data[set]!, '--weights', weights])).code,
      ).toBe(0);
      const compared = await run(['compare', float, out, '--data', data[set]!, '--layerwise', '--json']);
      expect(compared.code).toBe(0);
      results[weights] = JSON.parse(compared.stdout);
    }
    const channel = results['int8/per-channel']!;
    const tensor = results['int8/per-tensor']!;
    const outputSqnr = (r: typeof channel) => Number(r.outputs[0]!.sqnr_db);
    console.log(
      `${id}: output SQNR per-channel ${outputSqnr(channel).toFixed(1)} dB, per-tensor ${outputSqnr(tensor).toFixed(1)} dB; ` +
        `first under 20 dB with per-tensor: ${tensor.first_below_threshold?.node} (${tensor.first_below_threshold?.op})`,
    );
    expect(outputSqnr(tensor)).toBeLessThan(outputSqnr(channel));
    expect(tensor.first_below_threshold).not.toBeNull();
    // The layer-wise rows carry the depthwise flag the text report prints.
    expect(tensor.layers.some((l) => l.depthwise)).toBe(true);
    // The text form names the first layers and says which are depthwise.
    const text = await run([
      'compare',
      float,
      join(work, `${set}-int8-per-tensor.onnx`),
      '--data',
      data[set]!,
      '--layerwise',
    ]);
    expect(text.stdout).toMatch(/SQNR first falls under 20 dB at '/);
    expect(text.stdout).toMatch(/of them depthwise convolutions/);
    expect(text.stdout).toMatch(/first weight layers under it: /);
  });
});
