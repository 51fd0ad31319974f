// Child-process probe for the calibration memory test (calibration-memory.test.ts): calibrates
// PP-OCR cls on the calibration set's rec lines repeated R times and prints the peak memory it saw as JSON.
// A process of its own per configuration, so one run's heap and arenas cannot flatter the other.
import { readFile } from 'node:fs/promises';
import { prepareModel, readModel } from '@qgrain/onnx';
import {
  type DataSource,
  bindDataSource,
  calibrateModel,
  modelInputSpecs,
  nodeRunnerFactory,
  openDataSource,
  sha256Hex,
} from '@qgrain/pipeline';
import { ocrDataPath, realModels } from '@qgrain/test-harness';
import { selectBackend } from '@qgrain/wasm';

/** Sampling period of the memory watcher; runs of cls on one line take a few ms. */
const SAMPLE_EVERY_MS = 2;

/** The same source read `repeats` times over: each round re-reads the file, nothing is kept. */
function repeated(source: DataSource, repeats: number): DataSource {
  return {
    ...source,
    count: source.count === undefined ? undefined : source.count * repeats,
    async *samples() {
      for (let r = 0; r < repeats; r++) yield* source.samples();
    },
  };
}

const [repeatsText = '1', method = 'mse'] = process.argv.slice(2);
const path = realModels().find((m) => m.id === 'ppocr-cls')!.path;
const model = await readModel(path);
prepareModel(model);
const source = repeated(
  bindDataSource(
    await openDataSource(ocrDataPath('calibration', 'calib_rec.npy.gz')),
    modelInputSpecs(model),
  ),
  Number(repeatsText),
);
// Raw peaks include garbage V8 has not collected yet, whose high point grows with the number of
// samples taken. Live memory (heap + ArrayBuffers right after a full GC at each batch boundary) is
// what a growing dataset could inflate: the test compares its median and the live heap's peak
// (where the observers' state lives); ArrayBuffers in flight (file chunks, runtime outputs)
// swing by ~15 MB from batch to batch, so their single peak is reported, not compared.
const peak = { rss: 0, arrayBuffers: 0, heapUsed: 0, liveHeap: 0, liveArrayBuffers: 0 };
const live: number[] = [];
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with node --expose-gc: the live peak needs a full GC per batch');
const sample = (): void => {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
};
const sampleLive = (): void => {
  sample();
  collect();
  const m = process.memoryUsage();
  peak.liveHeap = Math.max(peak.liveHeap, m.heapUsed);
  peak.liveArrayBuffers = Math.max(peak.liveArrayBuffers, m.arrayBuffers);
  live.push(m.heapUsed + m.arrayBuffers);
};
const timer = setInterval(sample, SAMPLE_EVERY_MS);
const cache = await calibrateModel({
  model,
  modelSha256: await sha256Hex(new Uint8Array(await readFile(path))),
  source,
  method,
  runner: nodeRunnerFactory(),
  observer: { backend: await selectBackend('auto') },
  onProgress: sampleLive,
});
clearInterval(timer);
sampleLive();
const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
// Windows of one pass over the 48 lines. Live ArrayBuffers step up once, during the third pass
// (measured: the same with the data held in memory, so the runtime's buffers, not the reader),
// then stay flat; passes 3-4 are the settled level, the last pass is what 10x the data costs.
const PASS = 48;
process.stdout.write(
  `${JSON.stringify({
    batches: cache.batches,
    tensors: Object.keys(cache.tensors).length,
    ...peak,
    medianLive: median(live),
    settledLive: median(live.slice(2 * PASS, 4 * PASS)),
    lastPassLive: median(live.slice(-PASS)),
  })}\n`,
);
