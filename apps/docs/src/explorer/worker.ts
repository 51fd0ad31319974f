// The Granularity Explorer's Web Worker: it holds the opened model, surveys its weights with the
// WASM backend, and quantizes it, so the page stays responsive. Nothing leaves the browser.
import { type Model, type PrepareSummary, parseModel, prepareModel } from '@qgrain/onnx';
import { type WeightSurvey, channelRanges, modelInputSpecs, surveyWeights } from '@qgrain/pipeline';
import type { Backend } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import type { ExplorerRequest, ExplorerResponse, OpenedModel } from './protocol.js';
import { quantizeInWorker } from './quantize-step.js';

interface Opened {
  readonly name: string;
  /** The file as opened, for quantizing afresh each time. */
  readonly original: Uint8Array;
  /** The prepared copy the survey measured (BatchNorm folded: the weights that get quantized). */
  readonly prepared: Model;
  readonly survey: WeightSurvey;
}

let opened: Opened | undefined;
let backend: Promise<Backend> | undefined;

const post = (message: ExplorerResponse, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(message, transfer);

const progress = (step: string, done: number, total: number) => post({ type: 'progress', step, done, total });

function preparedText(summary: PrepareSummary): string {
  return (
    `${summary.constantsLifted} Constant nodes lifted, ${summary.batchNormsFolded} BatchNorms folded, ` +
    `${summary.affinesFolded} Mul/Add folded, ${summary.hardSwishesFused} HardSwish fused`
  );
}

async function open(name: string, bytes: Uint8Array): Promise<OpenedModel> {
  progress('reading the model', 0, 1);
  const model = parseModel(bytes);
  const nodes = model.graph.nodes.length;
  const inputs = modelInputSpecs(model).map(({ name, dtype, shape }) => ({ name, dtype, shape }));
  const summary = prepareModel(model, { foldBatchNorm: true });
  backend ??= selectBackend('wasm');
  const kernels = await backend;
  const survey = surveyWeights(model, {
    backend: kernels,
    onProgress: (done, total) => progress('measuring the weights', done, total),
  });
  opened = { name, original: bytes, prepared: model, survey };
  return {
    name,
    bytes: bytes.byteLength,
    nodes,
    inputs,
    prepared: preparedText(summary),
    backend: kernels.name,
    survey,
  };
}

function ranges(weight: string): ExplorerResponse {
  if (!opened) throw new Error('open a model first');
  const entry = opened.survey.weights.find((w) => w.name === weight);
  const init = opened.prepared
    .graphs()
    .find((g) => g.initializer(weight))
    ?.initializer(weight);
  if (!entry || !init) throw new Error(`no weight '${weight}' in ${opened.name}`);
  const { min, max } = channelRanges(init.toTensor().toFloat32(), init.dims, entry.channelAxis);
  return { type: 'ranges', ranges: { weight, channelAxis: entry.channelAxis, min, max } };
}

self.onmessage = async (event: MessageEvent<ExplorerRequest>) => {
  const request = event.data;
  try {
    if (request.type === 'open') {
      post({ type: 'opened', model: await open(request.name, new Uint8Array(request.bytes)) });
    } else if (request.type === 'ranges') {
      post(ranges(request.weight));
    } else if (request.type === 'quantize') {
      if (!opened) throw new Error('open a model first');
      backend ??= selectBackend('wasm');
      const result = await quantizeInWorker({
        original: opened.original,
        dims: request.dims,
        method: request.method,
        backend: await backend,
        onProgress: progress,
      });
      post({ type: 'quantized', result }, [result.bytes]);
    }
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
