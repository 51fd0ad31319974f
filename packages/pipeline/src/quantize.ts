// The one way in: `quantize(model, { mode })` runs one of the three modes and returns the same
// result type for each. The modes themselves live in modes/; this file picks one and fills in
// each mode's defaults, so that callers (the CLI, the docs app, a service) never choose code paths.
import { parseQuantSpec } from '@qgrain/granularity';
import type { Model } from '@qgrain/onnx';
import type { Observer } from '@qgrain/observers';
import { QgrainError } from '@qgrain/tensor';
import { DYNAMIC_SCHEMES, quantizeDynamic } from './modes/dynamic.js';
import { type StaticOptions, quantizeStatic } from './modes/static.js';
import { DEFAULT_WEIGHT_ONLY_SCHEME, quantizeWeightBlocks } from './modes/weight-only.js';
import { DEFAULT_ACTIVATION_SCHEME, DEFAULT_WEIGHT_SCHEME, type Plan } from './plan/plan.js';
import type { QuantizeMode, QuantizeReport, WeightOnlyFormat } from './report/quantize-report.js';

/** The modes `quantize` accepts, in the order the docs present them. */
export const QUANTIZE_MODES: readonly QuantizeMode[] = ['static', 'weight-only', 'dynamic'];

/**
 * Options of {@link quantize}. Which ones a mode reads:
 * - `static`: everything but `format`; calibration needs `data` and `runner`, or `ranges`.
 * - `weight-only`: `weights`, `exclude`, `include`, `backend`, `clip`, `threads`, and for
 *   per-block schemes `format`. A per-block scheme takes MatMul/Gemm/Gather weights block-wise; any other scheme
 *   quantizes every supported weight (Conv included) behind DequantizeLinear.
 * - `dynamic`: `activations` (the scheme computed at run time), `weights`, `exclude`, `backend`
 *   (its weights are quantized on the calling thread: `threads` is not read).
 * Every mode calls `onWeightWritten` after each weight it writes into the graph.
 */
export interface QuantizeOptions extends StaticOptions {
  /** Default 'static'. */
  readonly mode?: QuantizeMode;
  /** Block weights: blocked DequantizeLinear (default) or onnxruntime's MatMulNBits. */
  readonly format?: WeightOnlyFormat;
}

/** What {@link quantize} did, the same shape for every mode. */
export interface QuantizeResult {
  readonly mode: QuantizeMode;
  /** The schemes in force after defaults: `activations` is 'float' when no activation is quantized. */
  readonly schemes: { readonly weights: string; readonly activations: string };
  /** The plan that chose each tensor's scheme; absent for the weight-only block form. */
  readonly plan?: Plan;
  readonly report: QuantizeReport;
  /**
   * Static mode: the calibration observers by activation (what chose each calibrated range, with
   * its histogram for the histogram methods); empty when nothing was calibrated, absent in the
   * data-free modes.
   */
  readonly observers?: ReadonlyMap<string, Observer>;
}

/** Each mode's default weight scheme. */
export const DEFAULT_WEIGHT_SCHEMES: Readonly<Record<QuantizeMode, string>> = {
  static: DEFAULT_WEIGHT_SCHEME,
  'weight-only': DEFAULT_WEIGHT_ONLY_SCHEME,
  dynamic: DEFAULT_WEIGHT_SCHEME,
};

/** Each mode's default activation scheme ('float': none is quantized). */
export const DEFAULT_ACTIVATION_SCHEMES: Readonly<Record<QuantizeMode, string>> = {
  static: DEFAULT_ACTIVATION_SCHEME,
  'weight-only': 'float',
  dynamic: DYNAMIC_SCHEMES[0],
};

/**
 * Quantizes a (prepared: see `prepareModel`) float model in place, in one of three modes:
 * - `static` (default): weights per channel, activations calibrated on data (or taken from
 *   `ranges`), Q/DQ pairs where onnxruntime's integer kernels need them;
 * - `weight-only`: weights only, no data needed (blocks for MatMul-heavy models);
 * - `dynamic`: W8A8 MatMul/Gemm with activations quantized at run time, no data needed.
 */
export async function quantize(model: Model, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  const mode = options.mode ?? 'static';
  if (!QUANTIZE_MODES.includes(mode)) {
    throw new QgrainError(
      'invalid-argument',
      `unknown quantize mode '${mode}'; use ${QUANTIZE_MODES.join(', ')}`,
      {
        value: mode,
        option: 'mode',
      },
    );
  }
  const threads = options.threads;
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads >= 1)) {
    throw new QgrainError(
      'invalid-argument',
      `threads must be a whole number of at least 1, got ${threads}`,
      {
        value: threads,
        option: 'threads',
      },
    );
  }
  const weights = options.weights ?? DEFAULT_WEIGHT_SCHEMES[mode];
  const exclude = options.exclude ? { exclude: options.exclude } : {};
  const backend = options.backend ? { backend: options.backend } : {};
  const hook = options.onWeightWritten ? { onWeightWritten: options.onWeightWritten } : {};
  if (mode === 'dynamic') {
    const activations = options.activations ?? DEFAULT_ACTIVATION_SCHEMES.dynamic;
    const report = quantizeDynamic(model, { activations, weights, ...exclude, ...backend, ...hook });
    return { mode, schemes: { weights, activations }, report };
  }
  if (mode === 'weight-only' && parseQuantSpec(weights).granularity.kind === 'per-block') {
    const report = await quantizeWeightBlocks(model, {
      weights,
      ...(options.format ? { format: options.format } : {}),
      ...(options.clip ? { clip: options.clip } : {}),
      ...(threads ? { threads } : {}),
      ...(options.minParallelElements !== undefined
        ? { minParallelElements: options.minParallelElements }
        : {}),
      ...exclude,
      ...backend,
      ...hook,
    });
    return { mode, schemes: { weights, activations: 'float' }, report };
  }
  const weightOnly = mode === 'weight-only';
  const activations = weightOnly ? 'float' : (options.activations ?? DEFAULT_ACTIVATION_SCHEME);
  const { plan, report, observers } = await quantizeStatic(model, {
    ...options,
    weights,
    ...(weightOnly ? { weightsOnly: true } : { activations }),
  });
  return { mode, schemes: { weights, activations }, plan, report, observers };
}
