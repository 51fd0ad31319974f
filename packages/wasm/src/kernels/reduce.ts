// Reductions: min/max and abs-max per group.
import { type GroupLayout, assertLayoutFits } from '@qgrain/tensor';
import { CHUNK_ELEMENTS, type HostExports, type KernelHost } from './host.js';

/** The module's reduction kernels. */
export interface ReduceExports extends HostExports {
  absMax(xBase: number, start: number, end: number, out: number): void;
  minMax(xBase: number, start: number, end: number, min: number, max: number): void;
  canonicalZero(ptr: number, count: number): void;
}

/** Backend.minMax on the module. */
export function minMax(
  host: KernelHost<ReduceExports>,
  x: Float32Array,
  layout: GroupLayout,
  min: Float32Array,
  max: Float32Array,
): void {
  assertLayoutFits(layout, x.length);
  const [xr, minr, maxr] = host.offsets(x, min, max);
  const s = host.scratch(Math.max(min.length, max.length) * 4);
  x = host.revive(x, xr);
  min = host.revive(min, minr);
  max = host.revive(max, maxr);
  host.copyIn(min, 0, min.byteLength, s.groupA);
  host.copyIn(max, 0, max.byteLength, s.groupB);
  host.setLayout(layout);
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    host.k.minMax(host.floatInput(x, xr, c0, len, s.chunkIn), c0, c0 + len, s.groupA, s.groupB);
  }
  host.k.canonicalZero(s.groupA, min.length);
  host.k.canonicalZero(s.groupB, max.length);
  host.copyOut(s.groupA, min.byteLength, min, 0);
  host.copyOut(s.groupB, max.byteLength, max, 0);
}

/** Backend.absMax on the module. */
export function absMax(
  host: KernelHost<ReduceExports>,
  x: Float32Array,
  layout: GroupLayout,
  out: Float32Array,
): void {
  assertLayoutFits(layout, x.length);
  const [xr, outr] = host.offsets(x, out);
  const s = host.scratch(out.length * 4);
  x = host.revive(x, xr);
  out = host.revive(out, outr);
  host.copyIn(out, 0, out.byteLength, s.groupA);
  host.setLayout(layout);
  for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
    const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
    host.k.absMax(host.floatInput(x, xr, c0, len, s.chunkIn), c0, c0 + len, s.groupA);
  }
  host.k.canonicalZero(s.groupA, out.length);
  host.copyOut(s.groupA, out.byteLength, out, 0);
}
