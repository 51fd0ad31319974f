// How each quantized storage type travels through the kernels.
import type { QuantStorageDType } from '@qgrain/tensor';

type StorageCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor;

/**
 * Per storage type: its typed array, bytes per stored element, the quantize output kind (0: bytes,
 * 1: 16-bit, 2: 32-bit) and the dequantize input kind (0 i8, 1 u8, 2 i16, 3 u16, -1 none needed).
 */
export const STORAGE: Record<
  QuantStorageDType,
  { ctor: StorageCtor; width: number; store: number; widen: number }
> = {
  int4: { ctor: Uint8Array, width: 1, store: 0, widen: 0 },
  uint4: { ctor: Uint8Array, width: 1, store: 0, widen: 1 },
  int8: { ctor: Int8Array, width: 1, store: 0, widen: 0 },
  uint8: { ctor: Uint8Array, width: 1, store: 0, widen: 1 },
  int16: { ctor: Int16Array, width: 2, store: 1, widen: 2 },
  uint16: { ctor: Uint16Array, width: 2, store: 1, widen: 3 },
  int32: { ctor: Int32Array, width: 4, store: 2, widen: -1 },
};

/** True for the 4-bit types, stored two per byte. */
export function isPacked(storage: QuantStorageDType): boolean {
  return storage === 'int4' || storage === 'uint4';
}
