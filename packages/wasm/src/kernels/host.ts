// One backend instance's wasm memory as the kernel adapters use it: a bump allocator for
// wasm-resident arrays, per-call scratch space, and the staging of ordinary arrays in chunks.
import type { GroupLayout, QuantStorage } from '@qgrain/tensor';

/** Elements per chunk when a tensor is staged through wasm memory: 64K float32 is 256 KiB, which
 * stays in a 2-core laptop's L2 while the kernel reads it back. A multiple of 32 so 4-bit pairs and
 * SIMD blocks never straddle a chunk boundary. */
export const CHUNK_ELEMENTS = 1 << 16;

const CHUNK_BYTES = CHUNK_ELEMENTS * 4;
const WASM_PAGE_BYTES = 65536;
const ALIGN = 16;

/** What every kernel family needs from the module: its memory, where the heap starts, the layout. */
export interface HostExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  setLayout(blocked: number, dim: number, inner: number, block: number, groups: number): void;
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

/** Scratch buffers of one kernel call (byte addresses in wasm memory). */
export interface Scratch {
  /** Two group-sized arrays (scale and zero point, min and max...), each `groupBytes` long. */
  readonly groupA: number;
  readonly groupB: number;
  /** Chunk staging: input, output, and i32/byte intermediates. */
  readonly chunkIn: number;
  readonly chunkOut: number;
  readonly chunkMid: number;
}

/** An array a kernel may be handed, in wasm memory or not. */
export type KernelArray = Float32Array | Float64Array | QuantStorage;

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * The memory side of one backend instance. `K` names the module exports an adapter calls, so each
 * kernel family states what it uses.
 */
export class KernelHost<K extends HostExports = HostExports> {
  /** The module's exports. */
  readonly k: K;
  private readonly memory: WebAssembly.Memory;
  // Bump pointer: everything below it is in use (scratch or resident arrays).
  private top: number;
  private scratchStart = 0;
  private scratchBytes = 0;
  // Lengths of resident arguments, taken before any growth could zero them.
  private readonly lengths = new WeakMap<object, number>();

  constructor(exports: K) {
    this.k = exports;
    this.memory = exports.memory;
    this.top = alignUp(exports.heapBase());
  }

  /** Current size of the linear memory in bytes. */
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
  scratch(groupBytes: number): Scratch {
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

  /**
   * Growing memory detaches views of the old buffer (their length reads 0): re-creates the view of
   * an array that lived in wasm memory. Every kernel calls scratch() first, then revives.
   */
  revive<T extends KernelArray>(a: T, offset: number): T {
    if (offset < 0 || a.buffer === this.memory.buffer) return a;
    const ctor = a.constructor as new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;
    return new ctor(this.memory.buffer, offset, this.lengths.get(a) ?? 0);
  }

  /** Remembers where each argument lives before scratch() may grow memory. */
  offsets<const A extends readonly KernelArray[]>(...arrays: A): { [I in keyof A]: number } {
    return arrays.map((a) => {
      const offset = this.residentOffset(a);
      if (offset >= 0) this.lengths.set(a, a.length);
      return offset;
    }) as { [I in keyof A]: number };
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  /** Copies `length` bytes of `a` from byte `from` into wasm memory at `ptr`. */
  copyIn(a: ArrayBufferView, from: number, length: number, ptr: number): void {
    this.bytes().set(new Uint8Array(a.buffer, a.byteOffset + from, length), ptr);
  }

  /** Copies `length` bytes from wasm memory at `ptr` into `a` at byte `to`. */
  copyOut(ptr: number, length: number, a: ArrayBufferView, to: number): void {
    new Uint8Array(a.buffer, a.byteOffset + to, length).set(this.bytes().subarray(ptr, ptr + length));
  }

  /** Hands the group layout to the module's per-group kernels. */
  setLayout(layout: GroupLayout): void {
    const { mode, dim, inner, block, groups } = layout;
    this.k.setLayout(mode === 'blocked' ? 1 : 0, dim, inner, block, groups);
  }

  /** Element base of a float32 input chunk [c0, c0 + len): in place when resident, else staged. */
  floatInput(x: Float32Array, resident: number, c0: number, len: number, stage: number): number {
    if (resident >= 0) return resident;
    this.copyIn(x, c0 * 4, len * 4, stage);
    return stage - c0 * 4;
  }

  /** A `length`-element array of `bytes` bytes in wasm memory, kept for the host's lifetime. */
  allocate<T extends Float32Array | QuantStorage>(
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
