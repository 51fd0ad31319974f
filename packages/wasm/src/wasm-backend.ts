// The WASM backend: the compiled kernels module, instantiated once per backend and wrapped by the
// adapters in kernels/ (one file per kernel family, as in assembly/).
import { type Backend, QgrainError, type QuantStorage, type QuantStorageDType } from '@qgrain/tensor';
import { KERNELS_WASM_BASE64 } from './generated/kernels-wasm.js';
import { type DequantizeExports, dequantize } from './kernels/dequantize.js';
import { type FakeQuantExports, fakeQuant, quantError } from './kernels/fake-quant.js';
import { type HistogramExports, histogram } from './kernels/histogram.js';
import { KernelHost, type WasmArray } from './kernels/host.js';
import { type Int4Exports, packInt4, unpackInt4 } from './kernels/int4.js';
import { type QuantizeExports, quantize } from './kernels/quantize.js';
import { type ReduceExports, absMax, minMax } from './kernels/reduce.js';
import { STORAGE, isPacked } from './kernels/storage.js';

export { CHUNK_ELEMENTS, type WasmArray } from './kernels/host.js';

/** The WebAssembly backend: the Backend kernels plus wasm-resident allocation. */
export interface WasmBackend extends Backend {
  /** Current size of the instance's linear memory in bytes. */
  readonly memoryBytes: number;
  /** A float32 array in wasm memory (kept for the backend's lifetime). */
  allocateFloat32(length: number): WasmArray<Float32Array>;
  /** Storage for `count` quantized elements of `storage` in wasm memory (4-bit types packed). */
  allocateStorage(storage: QuantStorageDType, count: number): WasmArray<QuantStorage>;
}

// Everything assembly/index.ts exports.
type KernelExports = ReduceExports &
  HistogramExports &
  QuantizeExports &
  DequantizeExports &
  FakeQuantExports &
  Int4Exports;

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

// The Backend over one instance: each kernel is its family's adapter bound to the instance's memory.
function wasmBackend(host: KernelHost<KernelExports>): WasmBackend {
  return {
    name: 'wasm',
    get memoryBytes() {
      return host.memoryBytes;
    },
    minMax: (x, layout, min, max) => minMax(host, x, layout, min, max),
    absMax: (x, layout, out) => absMax(host, x, layout, out),
    histogram: (x, lo, hi, counts) => histogram(host, x, lo, hi, counts),
    quantize: (x, layout, scale, zeroPoint, range, out) =>
      quantize(host, x, layout, scale, zeroPoint, range, out),
    dequantize: (q, layout, scale, zeroPoint, range, out) =>
      dequantize(host, q, layout, scale, zeroPoint, range, out),
    fakeQuant: (x, layout, scale, zeroPoint, range, out) =>
      fakeQuant(host, x, layout, scale, zeroPoint, range, out),
    quantError: (x, layout, scale, zeroPoint, range) => quantError(host, x, layout, scale, zeroPoint, range),
    packInt4: (values, out) => packInt4(host, values, out),
    unpackInt4: (packed, out) => unpackInt4(host, packed, out),
    allocateFloat32: (length) => host.allocate(Float32Array, length, length * 4),
    allocateStorage: (storage, count) => {
      const info = STORAGE[storage];
      const length = isPacked(storage) ? Math.ceil(count / 2) : count;
      const ctor = info.ctor as unknown as new (
        buffer: ArrayBuffer,
        byteOffset: number,
        length: number,
      ) => QuantStorage;
      return host.allocate(ctor, length, length * info.width);
    },
  };
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
  return wasmBackend(new KernelHost(instance.exports as unknown as KernelExports));
}
