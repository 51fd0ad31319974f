import {
  type Backend,
  type GroupLayout,
  QgrainError,
  type QuantErrorSums,
  type QuantRange,
  type QuantStorage,
  type QuantStorageDType,
  assertLayoutFits,
} from '@qgrain/tensor';
import { KERNELS_WASM_BASE64 } from './generated/kernels-wasm.js';

/** Elements per chunk when a tensor is staged through wasm memory: 64K float32 is 256 KiB, which
 * stays in a 2-core laptop's L2 while the kernel reads it back. A multiple of 32 so 4-bit pairs and
 * SIMD blocks never straddle a chunk boundary. */
export const CHUNK_ELEMENTS = 1 << 16;

const CHUNK_BYTES = CHUNK_ELEMENTS * 4;
const WASM_PAGE_BYTES = 65536;
const ALIGN = 16;
// qmin/qmax magnitudes the float32 quantize path accepts (must match FAST_LIMIT in the kernels).
const FAST_LIMIT = 2 ** 21;

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  setLayout(blocked: number, dim: number, inner: number, block: number, groups: number): void;
  absMax(xBase: number, start: number, end: number, out: number): void;
  minMax(xBase: number, start: number, end: number, min: number, max: number): void;
  canonicalZero(ptr: number, count: number): void;
  histogram(x: number, count: number, lo: number, hi: number, counts: number, bins: number): void;
  histogramReset(table: number, bins: number): void;
  histogramTable(x: number, count: number, lo: number, hi: number, table: number, bins: number): void;
  histogramFold(table: number, counts: number, bins: number): void;
  quantFits(zp: number, groups: number): number;
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
  widen(src: number, count: number, kind: number, dst: number): void;
  dequantize(qBase: number, start: number, end: number, scale: number, zp: number, outBase: number): void;
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
  packInt4(src: number, count: number, dst: number): void;
  unpackInt4(src: number, count: number, dst: number, signed: number): void;
}

/**
 * A typed array that lives in a backend's wasm memory. Kernels given `array` read and write it in
 * place (no copy in or out), which is how callers reach memory bandwidth. `array` is re-created
 * when the memory has grown (growing detaches the old views), so read it again after kernel calls
 * rather than keeping the view.
 */
export interface WasmArray<T extends Float32Array | QuantStorage> {
  readonly length: number;
  readonly byteOffset: number;
  readonly array: T;
}

/** The WebAssembly backend: the Backend kernels plus wasm-resident allocation. */
export interface WasmBackend extends Backend {
  /** Current size of the instance's linear memory in bytes. */
  readonly memoryBytes: number;
  /** A float32 array in wasm memory (kept for the backend's lifetime). */
  allocateFloat32(length: number): WasmArray<Float32Array>;
  /** Storage for `count` quantized elements of `storage` in wasm memory (4-bit types packed). */
  allocateStorage(storage: QuantStorageDType, count: number): WasmArray<QuantStorage>;
}

type StorageCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor;

const STORAGE: Record<QuantStorageDType, { ctor: StorageCtor; width: number; store: number; widen: number }> =
  {
    // store: kind of quantize output (0: bytes, 1: 16-bit, 2: 32-bit); widen: dequantize input kind
    // (0 i8, 1 u8, 2 i16, 3 u16, -1 none needed).
    int4: { ctor: Uint8Array, width: 1, store: 0, widen: 0 },
    uint4: { ctor: Uint8Array, width: 1, store: 0, widen: 1 },
    int8: { ctor: Int8Array, width: 1, store: 0, widen: 0 },
    uint8: { ctor: Uint8Array, width: 1, store: 0, widen: 1 },
    int16: { ctor: Int16Array, width: 2, store: 1, widen: 2 },
    uint16: { ctor: Uint16Array, width: 2, store: 1, widen: 3 },
    int32: { ctor: Int32Array, width: 4, store: 2, widen: -1 },
  };

function isPacked(storage: QuantStorageDType): boolean {
  return storage === 'int4' || storage === 'uint4';
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let kernelBytes: Uint8Array<ArrayBuffer> | undefined;
let compiled: Promise<WebAssembly.Module> | undefined;

/** The kernels' wasm bytes (decoded once). */
export function kernelsWasmBytes(): Uint8Array<ArrayBuffer> {
  kernelBytes ??= decodeBase64(KERNELS_WASM_BASE64);
  return kernelBytes;
}

/**
 * True when this runtime has WebAssembly with 128-bit SIMD: validating the kernels module itself
 * answers exactly the question that matters.
 */
export function isWasmSimdSupported(): boolean {
  return typeof WebAssembly === 'object' && typeof WebAssembly.validate === 'function'
    ? WebAssembly.validate(kernelsWasmBytes())
    : false;
}

function checkGroups(layout: GroupLayout, scale: Float32Array, zeroPoint: Int32Array): void {
  if (scale.length !== layout.groups || zeroPoint.length !== layout.groups) {
    throw new QgrainError(
      'shape-mismatch',
      `the layout has ${layout.groups} groups but ${scale.length} scales and ${zeroPoint.length} zero points were given`,
    );
  }
}

/** Scratch buffers of one kernel call (byte addresses in wasm memory). */
interface Scratch {
  /** Four group-sized arrays (scale, zero point, min, max...), each `groupBytes` long. */
  readonly groupA: number;
  readonly groupB: number;
  /** Chunk staging: input, output, and i32/byte intermediates. */
  readonly chunkIn: number;
  readonly chunkOut: number;
  readonly chunkMid: number;
}

class WasmKernels implements WasmBackend {
  readonly name = 'wasm';
  private readonly k: KernelExports;
  private readonly memory: WebAssembly.Memory;
  // Bump pointer: everything below it is in use (scratch or resident arrays).
  private top: number;
  private scratchStart = 0;
  private scratchBytes = 0;

  constructor(exports: KernelExports) {
    this.k = exports;
    this.memory = exports.memory;
    this.top = alignUp(exports.heapBase());
  }

  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private reserve(bytes: number): number {
    const start = this.top;
    const end = start + alignUp(bytes);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / WASM_PAGE_BYTES));
    this.top = end;
    return start;
  }

  /** Scratch for a call whose group arrays hold `groupBytes` bytes each; reused across calls. */
  private scratch(groupBytes: number): Scratch {
    const group = alignUp(Math.max(groupBytes, ALIGN));
    const need = 2 * group + 3 * CHUNK_BYTES;
    if (need > this.scratchBytes) {
      // Reuse the old scratch space when nothing was allocated after it.
      if (this.scratchStart + this.scratchBytes === this.top && this.scratchBytes > 0)
        this.top = this.scratchStart;
      this.scratchStart = this.reserve(need);
      this.scratchBytes = need;
    }
    const s = this.scratchStart;
    return {
      groupA: s,
      groupB: s + group,
      chunkIn: s + 2 * group,
      chunkOut: s + 2 * group + CHUNK_BYTES,
      chunkMid: s + 2 * group + 2 * CHUNK_BYTES,
    };
  }

  /** Byte offset of `a` in wasm memory, or -1 when it lives elsewhere. Call before any growth. */
  private residentOffset(a: ArrayBufferView): number {
    return a.buffer === this.memory.buffer ? a.byteOffset : -1;
  }

  // Growing memory detaches views of the old buffer (their length reads 0): re-creates the view of
  // an array that lived in wasm memory. Every kernel calls scratch() first, then revives.
  private revive<T extends Float32Array | Float64Array | QuantStorage>(a: T, offset: number): T {
    if (offset < 0 || a.buffer === this.memory.buffer) return a;
    const ctor = a.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;
    return new ctor(this.memory.buffer, offset, this.lengths.get(a) ?? 0);
  }

  // Lengths of resident arguments, taken before any growth could zero them.
  private readonly lengths = new WeakMap<object, number>();

  /** Remembers where each argument lives before scratch() may grow memory. */
  private offsets<const A extends readonly (Float32Array | Float64Array | QuantStorage)[]>(
    ...arrays: A
  ): { [K in keyof A]: number } {
    return arrays.map((a) => {
      const offset = this.residentOffset(a);
      if (offset >= 0) this.lengths.set(a, a.length);
      return offset;
    }) as { [K in keyof A]: number };
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  // Copies `length` bytes of `a` from byte `from` into wasm memory at `ptr`.
  private copyIn(a: ArrayBufferView, from: number, length: number, ptr: number): void {
    this.bytes().set(new Uint8Array(a.buffer, a.byteOffset + from, length), ptr);
  }

  // Copies `length` bytes from wasm memory at `ptr` into `a` at byte `to`.
  private copyOut(ptr: number, length: number, a: ArrayBufferView, to: number): void {
    new Uint8Array(a.buffer, a.byteOffset + to, length).set(this.bytes().subarray(ptr, ptr + length));
  }

  private setLayout(layout: GroupLayout): void {
    const { mode, dim, inner, block, groups } = layout;
    this.k.setLayout(mode === 'blocked' ? 1 : 0, dim, inner, block, groups);
  }

  // Element base of a float32 input chunk [c0, c0 + len): in place when resident, else staged.
  private floatInput(x: Float32Array, resident: number, c0: number, len: number, stage: number): number {
    if (resident >= 0) return resident;
    this.copyIn(x, c0 * 4, len * 4, stage);
    return stage - c0 * 4;
  }

  minMax(x: Float32Array, layout: GroupLayout, min: Float32Array, max: Float32Array): void {
    assertLayoutFits(layout, x.length);
    const [xr, minr, maxr] = this.offsets(x, min, max);
    const s = this.scratch(Math.max(min.length, max.length) * 4);
    x = this.revive(x, xr);
    min = this.revive(min, minr);
    max = this.revive(max, maxr);
    this.copyIn(min, 0, min.byteLength, s.groupA);
    this.copyIn(max, 0, max.byteLength, s.groupB);
    this.setLayout(layout);
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      this.k.minMax(this.floatInput(x, xr, c0, len, s.chunkIn), c0, c0 + len, s.groupA, s.groupB);
    }
    this.k.canonicalZero(s.groupA, min.length);
    this.k.canonicalZero(s.groupB, max.length);
    this.copyOut(s.groupA, min.byteLength, min, 0);
    this.copyOut(s.groupB, max.byteLength, max, 0);
  }

  absMax(x: Float32Array, layout: GroupLayout, out: Float32Array): void {
    assertLayoutFits(layout, x.length);
    const [xr, outr] = this.offsets(x, out);
    const s = this.scratch(out.length * 4);
    x = this.revive(x, xr);
    out = this.revive(out, outr);
    this.copyIn(out, 0, out.byteLength, s.groupA);
    this.setLayout(layout);
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      this.k.absMax(this.floatInput(x, xr, c0, len, s.chunkIn), c0, c0 + len, s.groupA);
    }
    this.k.canonicalZero(s.groupA, out.length);
    this.copyOut(s.groupA, out.byteLength, out, 0);
  }

  histogram(x: Float32Array, lo: number, hi: number, counts: Float64Array): void {
    const bins = counts.length;
    if (bins === 0) return;
    // The tabled kernel pays for zeroing and folding 4 u32 counters per bin: worth it once the
    // call has more elements than counters.
    const tabled = x.length >= 4 * (bins + 1);
    const [xr, countsr] = this.offsets(x, counts);
    // groupA holds the float64 counts, groupB the (bins + 1) x 16-byte u32 table.
    const s = this.scratch(tabled ? 16 * (bins + 1) : 8 * bins);
    x = this.revive(x, xr);
    counts = this.revive(counts, countsr);
    this.copyIn(counts, 0, counts.byteLength, s.groupA);
    if (tabled) this.k.histogramReset(s.groupB, bins);
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      const base = this.floatInput(x, xr, c0, len, s.chunkIn);
      if (tabled) this.k.histogramTable(base + c0 * 4, len, lo, hi, s.groupB, bins);
      else this.k.histogram(base + c0 * 4, len, lo, hi, s.groupA, bins);
    }
    if (tabled) this.k.histogramFold(s.groupB, s.groupA, bins);
    this.copyOut(s.groupA, counts.byteLength, counts, 0);
  }

  // Copies scale and zero points in and says whether the float32 path is exact for this call.
  private loadQParams(s: Scratch, scale: Float32Array, zeroPoint: Int32Array, range: QuantRange): number {
    this.copyIn(scale, 0, scale.byteLength, s.groupA);
    this.copyIn(zeroPoint, 0, zeroPoint.byteLength, s.groupB);
    const { qmin, qmax } = range;
    const bounded = (q: number) => Number.isInteger(q) && Math.abs(q) <= FAST_LIMIT;
    return bounded(qmin) && bounded(qmax) ? this.k.quantFits(s.groupB, zeroPoint.length) : 0;
  }

  /**
   * The setup every per-group quant kernel shares: argument checks, the wasm offsets of arguments
   * that already live in wasm memory, scratch space (which may grow the memory, so the arguments
   * come back revived), and the scales, zero points and layout loaded for the kernel. `out` is
   * absent for kernels that only read (quantError).
   */
  private beginQuant<I extends Float32Array | QuantStorage, O extends Float32Array | QuantStorage>(
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
      ? this.offsets(input, scale, zeroPoint, out)
      : [...this.offsets(input, scale, zeroPoint), -1];
    const s = this.scratch(layout.groups * 4);
    const fast = this.loadQParams(
      s,
      this.revive(scale, scaleOffset),
      this.revive(zeroPoint, zpOffset),
      range,
    );
    this.setLayout(layout);
    return {
      s,
      fast,
      input: this.revive(input, inputOffset),
      inputOffset,
      out: out === undefined ? undefined : this.revive(out, outOffset),
      outOffset,
    };
  }

  quantize(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: QuantStorage,
  ): void {
    const info = STORAGE[range.storage];
    const packed = isPacked(range.storage);
    const call = this.beginQuant(x, out, x.length, layout, scale, zeroPoint, range);
    const { s, fast, inputOffset: xr, outOffset: outr } = call;
    x = call.input;
    out = call.out!;
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      const xBase = this.floatInput(x, xr, c0, len, s.chunkIn);
      if (packed) {
        // Quantize to one byte per element, then pack pairs (c0 is even, so bytes align).
        this.k.quantize(
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
        const bytes = Math.ceil(len / 2);
        const dst = outr >= 0 ? outr + c0 / 2 : s.chunkOut;
        this.k.packInt4(s.chunkMid, len, dst);
        if (outr < 0) this.copyOut(s.chunkOut, bytes, out, c0 / 2);
      } else {
        const w = info.width;
        const outBase = outr >= 0 ? outr : s.chunkOut - c0 * w;
        this.k.quantize(
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
        if (outr < 0) this.copyOut(s.chunkOut, len * w, out, c0 * w);
      }
    }
  }

  dequantize(
    q: QuantStorage,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: Float32Array,
  ): void {
    const info = STORAGE[range.storage];
    const packed = isPacked(range.storage);
    const call = this.beginQuant(q, out, out.length, layout, scale, zeroPoint, range);
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
          this.copyIn(q, c0 * 4, len * 4, s.chunkMid);
          qBase = s.chunkMid - c0 * 4;
        }
      } else {
        let src: number;
        if (packed) {
          const bytes = Math.ceil(len / 2);
          const packedSrc = qr >= 0 ? qr + c0 / 2 : s.chunkIn;
          if (qr < 0) this.copyIn(q, c0 / 2, Math.min(bytes, q.length - c0 / 2), s.chunkIn);
          this.k.unpackInt4(packedSrc, len, s.chunkOut, range.storage === 'int4' ? 1 : 0);
          src = s.chunkOut;
        } else if (qr >= 0) src = qr + c0 * info.width;
        else {
          this.copyIn(q, c0 * info.width, len * info.width, s.chunkIn);
          src = s.chunkIn;
        }
        this.k.widen(src, len, info.widen, s.chunkMid);
        qBase = s.chunkMid - c0 * 4;
      }
      const outBase = outr >= 0 ? outr : s.chunkOut - c0 * 4;
      this.k.dequantize(qBase, c0, c0 + len, s.groupA, s.groupB, outBase);
      if (outr < 0) this.copyOut(s.chunkOut, len * 4, out, c0 * 4);
    }
  }

  fakeQuant(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
    out: Float32Array,
  ): void {
    const call = this.beginQuant(x, out, x.length, layout, scale, zeroPoint, range);
    const { s, fast, inputOffset: xr, outOffset: outr } = call;
    x = call.input;
    out = call.out!;
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      const xBase = this.floatInput(x, xr, c0, len, s.chunkIn);
      const outBase = outr >= 0 ? outr : s.chunkOut - c0 * 4;
      this.k.fakeQuant(xBase, c0, c0 + len, s.groupA, s.groupB, range.qmin, range.qmax, outBase, fast, 0);
      if (outr < 0) this.copyOut(s.chunkOut, len * 4, out, c0 * 4);
    }
  }

  quantError(
    x: Float32Array,
    layout: GroupLayout,
    scale: Float32Array,
    zeroPoint: Int32Array,
    range: QuantRange,
  ): QuantErrorSums {
    const call = this.beginQuant(x, undefined, x.length, layout, scale, zeroPoint, range);
    const { s, fast, inputOffset: xr } = call;
    x = call.input;
    this.k.resetError();
    for (let c0 = 0; c0 < x.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, x.length - c0);
      const xBase = this.floatInput(x, xr, c0, len, s.chunkIn);
      this.k.fakeQuant(xBase, c0, c0 + len, s.groupA, s.groupB, range.qmin, range.qmax, 0, fast, 1);
    }
    return { signal: this.k.errorSignal(), noise: this.k.errorNoise() };
  }

  packInt4(values: Int8Array | Uint8Array, out: Uint8Array): void {
    const [vr, outr] = this.offsets(values, out);
    const s = this.scratch(0);
    values = this.revive(values, vr);
    out = this.revive(out, outr);
    for (let c0 = 0; c0 < values.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, values.length - c0);
      const src = vr >= 0 ? vr + c0 : s.chunkIn;
      if (vr < 0) this.copyIn(values, c0, len, s.chunkIn);
      const dst = outr >= 0 ? outr + c0 / 2 : s.chunkOut;
      this.k.packInt4(src, len, dst);
      if (outr < 0) this.copyOut(s.chunkOut, Math.ceil(len / 2), out, c0 / 2);
    }
  }

  unpackInt4(packed: Uint8Array, out: Int8Array | Uint8Array): void {
    const [pr, outr] = this.offsets(packed, out);
    const s = this.scratch(0);
    packed = this.revive(packed, pr);
    out = this.revive(out, outr);
    const signed = out instanceof Int8Array ? 1 : 0;
    for (let c0 = 0; c0 < out.length; c0 += CHUNK_ELEMENTS) {
      const len = Math.min(CHUNK_ELEMENTS, out.length - c0);
      const bytes = Math.ceil(len / 2);
      const src = pr >= 0 ? pr + c0 / 2 : s.chunkIn;
      if (pr < 0) this.copyIn(packed, c0 / 2, Math.min(bytes, packed.length - c0 / 2), s.chunkIn);
      const dst = outr >= 0 ? outr + c0 : s.chunkOut;
      this.k.unpackInt4(src, len, dst, signed);
      if (outr < 0) this.copyOut(s.chunkOut, len, out, c0);
    }
  }

  allocateFloat32(length: number): WasmArray<Float32Array> {
    return this.allocate(Float32Array, length, length * 4);
  }

  allocateStorage(storage: QuantStorageDType, count: number): WasmArray<QuantStorage> {
    const info = STORAGE[storage];
    const length = isPacked(storage) ? Math.ceil(count / 2) : count;
    const ctor = info.ctor as unknown as new (
      buffer: ArrayBuffer,
      byteOffset: number,
      length: number,
    ) => QuantStorage;
    return this.allocate(ctor, length, length * info.width);
  }

  private allocate<T extends Float32Array | QuantStorage>(
    ctor: new (buffer: ArrayBuffer, byteOffset: number, length: number) => T,
    length: number,
    bytes: number,
  ): WasmArray<T> {
    const byteOffset = this.reserve(bytes);
    const memory = this.memory;
    let view = new ctor(memory.buffer, byteOffset, length);
    return {
      length,
      byteOffset,
      get array(): T {
        if (view.buffer !== memory.buffer) view = new ctor(memory.buffer, byteOffset, length);
        return view;
      },
    };
  }
}

/**
 * Instantiates the WebAssembly kernels (the module is compiled once and shared; each backend gets
 * its own memory). Rejects when the runtime lacks WebAssembly SIMD: use `selectBackend('auto')` to
 * fall back to the JS reference instead.
 */
export async function createWasmBackend(): Promise<WasmBackend> {
  if (!isWasmSimdSupported()) {
    throw new QgrainError(
      'unsupported',
      'this runtime has no WebAssembly 128-bit SIMD; use selectBackend("auto") to fall back to the JS backend',
    );
  }
  compiled ??= WebAssembly.compile(kernelsWasmBytes());
  const instance = await WebAssembly.instantiate(await compiled, {});
  return new WasmKernels(instance.exports as unknown as KernelExports);
}
