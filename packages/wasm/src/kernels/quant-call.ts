// The setup the per-group quant kernels (quantize, dequantize, fakeQuant, quantError) share.
import {
  type GroupLayout,
  QgrainError,
  type QuantRange,
  type QuantStorage,
  assertLayoutFits,
} from '@qgrain/tensor';
import type { HostExports, KernelHost, Scratch } from './host.js';

// qmin/qmax magnitudes the float32 quantize path accepts (must match FAST_LIMIT in the kernels).
const FAST_LIMIT = 2 ** 21;

/** The module export that checks zero points for the float32 path. */
export interface QuantParamExports extends HostExports {
  quantFits(zp: number, groups: number): number;
}

function checkGroups(layout: GroupLayout, scale: Float32Array, zeroPoint: Int32Array): void {
  if (scale.length !== layout.groups || zeroPoint.length !== layout.groups) {
    throw new QgrainError(
      'shape-mismatch',
      `the layout has ${layout.groups} groups but ${scale.length} scales and ${zeroPoint.length} zero points were given`,
    );
  }
}

// Copies scale and zero points in and says whether the float32 path is exact for this call.
function loadQParams(
  host: KernelHost<QuantParamExports>,
  s: Scratch,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
): number {
  host.copyIn(scale, 0, scale.byteLength, s.groupA);
  host.copyIn(zeroPoint, 0, zeroPoint.byteLength, s.groupB);
  const { qmin, qmax } = range;
  const bounded = (q: number) => Number.isInteger(q) && Math.abs(q) <= FAST_LIMIT;
  return bounded(qmin) && bounded(qmax) ? host.k.quantFits(s.groupB, zeroPoint.length) : 0;
}

/**
 * Argument checks, the wasm offsets of arguments that already live in wasm memory, scratch space
 * (which may grow the memory, so the arguments come back revived), and the scales, zero points and
 * layout loaded for the kernel. `out` is absent for kernels that only read (quantError).
 */
export function beginQuant<I extends Float32Array | QuantStorage, O extends Float32Array | QuantStorage>(
  host: KernelHost<QuantParamExports>,
  input: I,
  out: O | undefined,
  elements: number,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
) {
  assertLayoutFits(layout, elements);
  checkGroups(layout, scale, zeroPoint);
  const [inputOffset, scaleOffset, zpOffset, outOffset] = out
    ? host.offsets(input, scale, zeroPoint, out)
    : [...host.offsets(input, scale, zeroPoint), -1];
  const s = host.scratch(layout.groups * 4);
  const fast = loadQParams(host, s, host.revive(scale, scaleOffset), host.revive(zeroPoint, zpOffset), range);
  host.setLayout(layout);
  return {
    s,
    fast,
    input: host.revive(input, inputOffset),
    inputOffset,
    out: out === undefined ? undefined : host.revive(out, outOffset),
    outOffset,
  };
}
