import {
  type QuantSpec,
  formatQuantSpec,
  parseQuantSpec,
  qparamsFromData,
  quantizationSqnr,
  storageCost,
} from '@qgrain/granularity';
import { type Backend, jsBackend } from '@qgrain/tensor';
import type { WeightRole } from './weight-roles.js';

/** The schemes `qgrain inspect` compares for every weight: the granularity ladder at 8 and 4 bits. */
export const INSPECT_SCHEMES: readonly string[] = [
  'int8/per-tensor',
  'int8/per-channel',
  'int8/per-block:32',
  'int4/per-block:32',
];

/** What one scheme does to one weight. */
export interface SchemeOutcome {
  /** Weight SQNR in dB (+Infinity when quantization is exact). */
  readonly sqnrDb: number;
  /** Stored bytes: values, scales and zero points. */
  readonly bytes: number;
  readonly bitsPerElement: number;
}

/** Shape and axes a spec is applied with, for a weight in a given role. */
export function weightView(
  spec: QuantSpec,
  shape: readonly number[],
  role: WeightRole,
): { shape: readonly number[]; context: { channelAxis: number; blockAxis: number } } {
  return spec.granularity.kind === 'per-block'
    ? { shape: role.blockView, context: { channelAxis: role.channelAxis, blockAxis: role.blockAxis } }
    : { shape, context: { channelAxis: role.channelAxis, blockAxis: role.blockAxis } };
}

/** Quantizes a weight with each scheme (without keeping the result) and measures SQNR and size. */
export function analyzeWeight(
  values: Float32Array,
  shape: readonly number[],
  role: WeightRole,
  schemes: readonly (string | QuantSpec)[] = INSPECT_SCHEMES,
  backend: Backend = jsBackend,
  name?: string,
): Record<string, SchemeOutcome> {
  const outcome: Record<string, SchemeOutcome> = {};
  for (const scheme of schemes) {
    const spec = typeof scheme === 'string' ? parseQuantSpec(scheme) : scheme;
    const view = weightView(spec, shape, role);
    const qp = qparamsFromData(values, view.shape, spec, { backend, context: view.context, name });
    const cost = storageCost(view.shape, spec, view.context);
    outcome[typeof scheme === 'string' ? scheme : formatQuantSpec(spec)] = {
      sqnrDb: quantizationSqnr(values, qp, backend),
      bytes: cost.bytes,
      bitsPerElement: cost.bitsPerElement,
    };
  }
  return outcome;
}
