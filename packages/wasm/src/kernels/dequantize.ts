// Dequantization from every storage type: stored integers are brought to i32 (unpacked, widened or
// used in place), then scaled in float64 lanes.
import type { GroupLayout, QuantRange, QuantStorage } from '@qgrain/tensor';
import { CHUNK_ELEMENTS, type KernelHost } from './host.js';
import type { Int4Exports } from './int4.js';
import { type QuantParamExports, beginQuant } from './quant-call.js';
import { STORAGE, isPacked } from './storage.js';

/** The module's dequantize kernels. */
export interface DequantizeExports extends QuantParamExports {
  widen(src: number, count: number, kind: number, dst: number): void;
  dequantize(qBase: number, start: number, end: number, scale: number, zp: number, outBase: number): void;
}

/** Backend.dequantize on the module. */
export function dequantize(
  host: KernelHost<DequantizeExports & Int4Exports>,
  q: QuantStorage,
  layout: GroupLayout,
  scale: Float32Array,
  zeroPoint: Int32Array,
  range: QuantRange,
  out: Float32Array,
): void {
  const info = STORAGE[range.storage];
  const packed = isPacked(range.storage);
  const call = beginQuant(host, q, out, out.length, layout, scale, zeroPoint, range);
  const { s, inputOffset: qr, outOffset: outr } = call;
  q = call.input;
  out = call.out!;
  for (let c0 = 0; c0 < out.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, out.length - c0);
    // Bring the stored integers to i32 at chunkMid (or use them in place when already i32).
    let qBase: number;
    if (info.widen < 0) {
      if (qr >= 0) qBase = qr;
      else {
        host.copyIn(q, c0 * 4, len * 4, s.chunkMid);
        qBase = s.chunkMid - c0 * 4;
      }
    } else {
      let src: number;
      if (packed) {
        const bytes = Math.ceil(len / 2);
        const packedSrc = qr >= 0 ? qr + c0 / 2 : s.chunkIn;
        if (qr < 0) host.copyIn(q, c0 / 2, Math.min(bytes, q.length - c0 / 2), s.chunkIn);
        host.k.unpackInt4(packedSrc, len, s.chunkOut, range.storage === 'int4' ? 1 : 0);
        src = s.chunkOut;
      } else if (qr >= 0) src = qr + c0 * info.width;
      else {
        host.copyIn(q, c0 * info.width, len * info.width, s.chunkIn);
        src = s.chunkIn;
      }
      host.k.widen(src, len, info.widen, s.chunkMid);
      qBase = s.chunkMid - c0 * 4;
    }
    const outBase = outr >= 0 ? outr : s.chunkOut - c0 * 4;
    host.k.dequantize(qBase, c0, c0 + len, s.groupA, s.groupB, outBase);
    if (outr < 0) host.copyOut(s.chunkOut, len * 4, out, c0 * 4);
  }
}
