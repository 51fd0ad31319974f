// Quantization into every storage type; 4-bit types are quantized to bytes, then packed.
import type { GroupLayout, QuantRange, QuantStorage } from '@qgrain/tensor';
import { CHUNK_ELEMENTS, type KernelHost } from './host.js';
import type { Int4Exports } from './int4.js';
import { type QuantParamExports, beginQuant } from './quant-call.js';
import { STORAGE, isPacked } from './storage.js';

/** The module's quantize kernel. */
export interface QuantizeExports extends QuantParamExports {
  quantize(
    xBase: number,
    start: number,
    end: number,
    scale: number,
    zp: number,
    qmin: number,
    qmax: number,
    outBase: number,
    kind: number,
    fast: number,
  ): void;
  quantizeNibbles(
    xBase: number,
    start: number,
    end: number,
    scale: number,
    zp: number,
    qmin: number,
    qmax: number,
    outBase: number,
    fast: number,
  ): number;
}

/** Backend.quantize on the module. */
export function quantize(
  host: KernelHost<QuantizeExports & Int4Exports>,
  x: Float32Array,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
  out: QuantStorage,
): void {
  const info = STORAGE[range.storage];
  const packed = isPacked(range.storage);
  const call = beginQuant(host, x, out, x.length, layout, scale, zeroPoint, range);
  const { s, fast, inputOffset: xr, outOffset: outr } = call;
  x = call.input;
  out = call.out!;
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    const xBase = host.floatInput(x, xr, c0, len, s.chunkIn);
    if (packed) {
      const bytes = Math.ceil(len / 2);
      const dst = outr >= 0 ? outr + c0 / 2 : s.chunkOut;
      // Blocks along the last axis are packed as they are quantized; anything the kernel leaves
      // (c0 is even, so bytes align) is quantized to one byte per element, then packed in pairs.
      const done = host.k.quantizeNibbles(
        xBase,
        c0,
        c0 + len,
        s.groupA,
        s.groupB,
        range.qmin,
        range.qmax,
        dst - c0 / 2,
        fast,
      );
      if (done < c0 + len) {
        host.k.quantize(
          xBase,
          c0,
          c0 + len,
          s.groupA,
          s.groupB,
          range.qmin,
          range.qmax,
          s.chunkMid - c0,
          0,
          fast,
        );
        host.k.packInt4(s.chunkMid, len, dst);
      }
      if (outr < 0) host.copyOut(s.chunkOut, bytes, out, c0 / 2);
    } else {
      const w = info.width;
      const outBase = outr >= 0 ? outr : s.chunkOut - c0 * w;
      host.k.quantize(
        xBase,
        c0,
        c0 + len,
        s.groupA,
        s.groupB,
        range.qmin,
        range.qmax,
        outBase,
        info.store,
        fast,
      );
      if (outr < 0) host.copyOut(s.chunkOut, len * w, out, c0 * w);
    }
  }
}
