// Fake quantization and the quantization error sums (signal and noise energy, for SQNR): one
// kernel, which either stores dequantize(quantize(x)) or adds up instead.
import type { GroupLayout, QuantErrorSums, QuantRange } from '@qgrain/tensor';
import { CHUNK_ELEMENTS, type KernelHost } from './host.js';
import { type QuantParamExports, beginQuant } from './quant-call.js';

/** The module's fake-quant kernel and its error sums. */
export interface FakeQuantExports extends QuantParamExports {
  resetError(): void;
  errorSignal(): number;
  errorNoise(): number;
  fakeQuant(
    xBase: number,
    start: number,
    end: number,
    scale: number,
    zp: number,
    qmin: number,
    qmax: number,
    outBase: number,
    fast: number,
    sums: number,
  ): void;
}

/** Backend.fakeQuant on the module. */
export function fakeQuant(
  host: KernelHost<FakeQuantExports>,
  x: Float32Array,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
  out: Float32Array,
): void {
  const call = beginQuant(host, x, out, x.length, layout, scale, zeroPoint, range);
  const { s, fast, inputOffset: xr, outOffset: outr } = call;
  x = call.input;
  out = call.out!;
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    const xBase = host.floatInput(x, xr, c0, len, s.chunkIn);
    const outBase = outr >= 0 ? outr : s.chunkOut - c0 * 4;
    host.k.fakeQuant(xBase, c0, c0 + len, s.groupA, s.groupB, range.qmin, range.qmax, outBase, fast, 0);
    if (outr < 0) host.copyOut(s.chunkOut, len * 4, out, c0 * 4);
  }
}

/** Backend.quantError on the module. */
export function quantError(
  host: KernelHost<FakeQuantExports>,
  x: Float32Array,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
): QuantErrorSums {
  const call = beginQuant(host, x, undefined, x.length, layout, scale, zeroPoint, range);
  const { s, fast, inputOffset: xr } = call;
  x = call.input;
  host.k.resetError();
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    const xBase = host.floatInput(x, xr, c0, len, s.chunkIn);
    host.k.fakeQuant(xBase, c0, c0 + len, s.groupA, s.groupB, range.qmin, range.qmax, 0, fast, 1);
  }
  return { signal: host.k.errorSignal(), noise: host.k.errorNoise() };
}
