// Bundled by browser-threads.test.ts as one ES module that a page loads by URL: the page quantizes
// a model on its own thread and on two Web Workers. A pool's worker runs the module the pool lives
// in, here this whole bundle, so the page's part must not run in a worker: isWeightWorker says
// where this is.
import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { isWeightWorker, quantize } from '@qgrain/pipeline';
import { toBase64 } from './browser-entry-base64.js';

/** What the page hands back: the model quantized on 1 and 2 threads, and the workers started. */
export interface BrowserThreadsOutput {
  readonly one: string;
  readonly two: string;
  readonly workers: number;
  /** Weights quantized. */
  readonly weights: number;
}

if (!isWeightWorker) {
  let workers = 0;
  const Native = globalThis.Worker;
  globalThis.Worker = class extends Native {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      workers++;
    }
  };
  (globalThis as { qgrainThreaded?: Promise<BrowserThreadsOutput> }).qgrainThreaded = (async () => {
    const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
    const quantized = async (threads: number) => {
      const model = parseModel(bytes);
      prepareModel(model, { foldBatchNorm: true });
      // The model is small: start the workers anyway.
      const { report } = await quantize(model, { mode: 'weight-only', threads, minParallelElements: 0 });
      return { bytes: toBase64(serializeModel(model)), weights: report.weights.length };
    };
    const one = await quantized(1);
    const two = await quantized(2);
    return { one: one.bytes, two: two.bytes, workers, weights: two.weights };
  })();
}
