// The advisor's candidates and what each costs a tensor locally: its quantization noise (the sum
// of squared errors it adds to the tensor's own values) and its bytes. How much of that local
// noise reaches the model outputs is measured once per tensor (see advise.ts); these local
// figures scale that one measurement to every other candidate of the tensor.
import {
  type QParams,
  type QuantSpec,
  formatQuantSpec,
  parseQuantSpec,
  qparamsFromData,
  qparamsFromRanges,
  storageCost,
  storageOf,
} from '@qgrain/granularity';
import {
  HistogramObserver,
  type Observer,
  expectedSquaredError,
  parseCalibrationMethod,
} from '@qgrain/observers';
import { type Backend, QgrainError } from '@qgrain/tensor';
import { weightView } from '../plan/weight-analysis.js';
import type { WeightRole } from '../plan/weight-roles.js';

/** Weight candidates when none are given: the two grains the seed's lesson is about. */
export const DEFAULT_WEIGHT_CANDIDATES: readonly string[] = ['int8/per-tensor', 'int8/per-channel'];
/** Activation candidates when none are given: 8 bits, 16 bits, or left float. */
export const DEFAULT_ACTIVATION_CANDIDATES: readonly string[] = ['uint8', 'int16', 'float'];
/** Calibration methods when none are given: the four histogram-free and histogram ones. */
export const DEFAULT_METHODS: readonly string[] = ['minmax', 'percentile', 'entropy', 'mse'];

/** The activation candidate that leaves a tensor float. */
export const FLOAT = 'float';

/** Storage types an activation can be quantized to in QDQ form. */
const ACTIVATION_STORAGES = ['uint8', 'int8', 'uint16', 'int16'] as const;
export type ActivationStorageType = (typeof ACTIVATION_STORAGES)[number];

/** Parses a weight candidate list, naming the bad entry. */
export function parseWeightCandidates(list: readonly string[]): QuantSpec[] {
  if (list.length === 0) throw candidateError('weights', '', 'give at least one weight scheme');
  return list.map((text) => {
    try {
      return parseQuantSpec(text);
    } catch (error) {
      throw candidateError('weights', text, (error as Error).message);
    }
  });
}

/**
 * Parses an activation candidate list: `float`, or a per-tensor 8- or 16-bit scheme, written
 * whole (`uint8/per-tensor`) or by its type alone (`uint8`). Returns the schemes' texts, `float`
 * kept as it is.
 */
export function parseActivationCandidates(list: readonly string[]): string[] {
  if (list.length === 0) throw candidateError('activations', '', 'give at least one of uint8, int16, float');
  return list.map((text) => {
    if (text === FLOAT) return FLOAT;
    const full = text.includes('/') ? text : `${text}/per-tensor`;
    let spec: QuantSpec;
    try {
      spec = parseQuantSpec(full);
    } catch (error) {
      throw candidateError('activations', text, (error as Error).message);
    }
    const storage = storageOf(spec.type);
    if (
      spec.granularity.kind !== 'per-tensor' ||
      !(ACTIVATION_STORAGES as readonly string[]).includes(storage)
    )
      throw candidateError(
        'activations',
        text,
        'static activations are per tensor, in 8 or 16 bits (uint8, int8, uint16, int16) or float',
      );
    return formatQuantSpec(spec);
  });
}

/** Parses a method list (minmax, percentile[:P], entropy, mse). */
export function parseMethods(list: readonly string[]): string[] {
  if (list.length === 0) throw candidateError('methods', '', 'give at least one calibration method');
  return list.map((text) => {
    let kind: string;
    try {
      kind = parseCalibrationMethod(text).kind;
    } catch (error) {
      throw candidateError('methods', text, (error as Error).message);
    }
    if (kind === 'moving-average')
      throw candidateError(
        'methods',
        text,
        'the advisor derives every method from one histogram; use minmax, percentile, entropy or mse',
      );
    return text;
  });
}

function candidateError(option: string, value: string, why: string): QgrainError {
  return new QgrainError('invalid-argument', `${option} candidate '${value}': ${why}`, {
    value,
    option: `${option}-candidates`,
  });
}

/** One way to quantize a weight, with what it costs locally. */
export interface WeightCandidate {
  readonly scheme: string;
  readonly qp: QParams;
  /** Sum of squared errors the scheme adds to the weight's values. */
  readonly noise: number;
  /** Sum of squares of the weight's values. */
  readonly signal: number;
  /** Stored bytes: values, scales and zero points. */
  readonly bytes: number;
}

/** Measures each weight candidate on a weight's float values. */
export function weightCandidates(
  name: string,
  values: Float32Array,
  dims: readonly number[],
  role: WeightRole,
  specs: readonly QuantSpec[],
  backend: Backend,
): WeightCandidate[] {
  const out: WeightCandidate[] = [];
  for (const spec of specs) {
    // A blocked scheme on a layout with no reduction axis cannot be applied: not a candidate here.
    if (spec.granularity.kind === 'per-block' && role.blockAxis < 0) continue;
    const view = weightView(spec, dims, role);
    const qp = qparamsFromData(values, view.shape, spec, { backend, context: view.context, name });
    const { signal, noise } = backend.quantError(values, qp.layout, qp.scale, qp.zeroPoint, qp.range);
    out.push({
      scheme: formatQuantSpec(spec),
      qp,
      noise,
      signal,
      bytes: storageCost(view.shape, spec, view.context).bytes,
    });
  }
  return out;
}

/** One way to quantize an activation, with its range and the local noise it is expected to add. */
export interface ActivationCandidate {
  /** `uint8/per-tensor mse`, ..., or `float`. */
  readonly label: string;
  /** Scheme text, or `float`. */
  readonly scheme: string;
  readonly method?: string;
  readonly range?: { readonly min: number; readonly max: number };
  readonly scale?: number;
  readonly zeroPoint?: number;
  readonly storage?: ActivationStorageType;
  /** Expected sum of squared errors over the calibration data (0 for float). */
  readonly noise: number;
}

/** The histogram observer of `observer` re-read with another range selection, bits and grid. */
function reselect(
  observer: HistogramObserver,
  method: string,
  bits: number,
  symmetricGrid: boolean,
): HistogramObserver {
  const json = observer.toJSON();
  const m = parseCalibrationMethod(method);
  // Every selection is made on the same |x| histogram: a percentile then cuts the top of |x| (both
  // tails at once), and minmax is the 100th percentile, which the observed extremes then clamp.
  const selection = m.kind === 'entropy' || m.kind === 'mse' ? m.kind : ('percentile' as const);
  const percentile = m.kind === 'percentile' ? m.percentile : 100;
  return HistogramObserver.fromJSON({
    ...json,
    config: {
      ...json.config,
      selection,
      percentile,
      bits,
      // The grid matters to mse's step count; percentile must stay on the |x| histogram.
      symmetric: selection === 'percentile' ? true : symmetricGrid,
    },
  });
}

/**
 * Every (precision, method) candidate of an activation, from the one |x| histogram calibration
 * filled: the range each method selects, the Q/DQ numbers it gives, and the expected squared
 * error of quantizing the calibration data with it (rounding inside the range, clipping outside,
 * integrated exactly over each histogram bin: see `expectedSquaredError`).
 */
export function activationCandidates(
  tensor: string,
  observer: Observer,
  schemes: readonly string[],
  methods: readonly string[],
): ActivationCandidate[] {
  if (!(observer instanceof HistogramObserver) || observer.histogramConfig.symmetric)
    throw new QgrainError('internal', `activation '${tensor}' was not observed with an |x| histogram`, {
      tensor,
    });
  const snapshot = observer.histogramSnapshot();
  const out: ActivationCandidate[] = [];
  for (const scheme of schemes) {
    if (scheme === FLOAT) {
      out.push({ label: FLOAT, scheme: FLOAT, noise: 0 });
      continue;
    }
    const spec = parseQuantSpec(scheme);
    const bits = spec.type.bits - (spec.reduceRange ? 1 : 0);
    for (const method of methods) {
      const range = reselect(observer, method, bits, spec.symmetric).range();
      const min = range.min[0]!;
      const max = range.max[0]!;
      if (!(min <= max)) continue; // saw no finite value: calibration has already said so
      const qp = qparamsFromRanges([min], [max], spec, []);
      const scale = qp.scale[0]!;
      // The |x| histogram sees a signed range through its wider end (a proxy, exact for the
      // one-sided ranges of ReLU and Sigmoid outputs, which most activations here are).
      const threshold = Math.max(Math.abs(min), Math.abs(max));
      const noise =
        scale > 0 && threshold > 0
          ? expectedSquaredError(
              snapshot.counts,
              snapshot.counts.length,
              snapshot.width,
              threshold,
              threshold / scale,
            )
          : 0;
      out.push({
        label: `${scheme} ${method}`,
        scheme,
        method,
        range: { min, max },
        scale,
        zeroPoint: qp.zeroPoint[0]!,
        storage: qp.range.storage as ActivationStorageType,
        noise,
      });
    }
  }
  return out;
}
