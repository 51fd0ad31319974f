// 4-bit packing, low nibble first.
import { CHUNK_ELEMENTS, type HostExports, type KernelHost } from './host.js';

/** The module's 4-bit packing kernels. */
export interface Int4Exports extends HostExports {
  packInt4(src: number, count: number, dst: number): void;
  unpackInt4(src: number, count: number, dst: number, signed: number): void;
}

/** Backend.packInt4 on the module. */
export function packInt4(
  host: KernelHost<Int4Exports>,
  values: Int8Array | Uint8Array,
  out: Uint8Array,
): void {
  const [vr, outr] = host.offsets(values, out);
  const s = host.scratch(0);
  values = host.revive(values, vr);
  out = host.revive(out, outr);
  for (let c0 = 0; c0 < values.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, values.length - c0);
    const src = vr >= 0 ? vr + c0 : s.chunkIn;
    if (vr < 0) host.copyIn(values, c0, len, s.chunkIn);
    const dst = outr >= 0 ? outr + c0 / 2 : s.chunkOut;
    host.k.packInt4(src, len, dst);
    if (outr < 0) host.copyOut(s.chunkOut, Math.ceil(len / 2), out, c0 / 2);
  }
}

/** Backend.unpackInt4 on the module. */
export function unpackInt4(
  host: KernelHost<Int4Exports>,
  packed: Uint8Array,
  out: Int8Array | Uint8Array,
): void {
  const [pr, outr] = host.offsets(packed, out);
  const s = host.scratch(0);
  packed = host.revive(packed, pr);
  out = host.revive(out, outr);
  const signed = out instanceof Int8Array ? 1 : 0;
  for (let c0 = 0; c0 < out.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, out.length - c0);
    const bytes = Math.ceil(len / 2);
    const src = pr >= 0 ? pr + c0 / 2 : s.chunkIn;
    if (pr < 0) host.copyIn(packed, c0 / 2, Math.min(bytes, packed.length - c0 / 2), s.chunkIn);
    const dst = outr >= 0 ? outr + c0 : s.chunkOut;
    host.k.unpackInt4(src, len, dst, signed);
    if (outr < 0) host.copyOut(s.chunkOut, len, out, c0);
  }
}
