import { QgrainError, type QuantStorageDType } from '@qgrain/tensor';

/** An integer type for quantized values: 2..16 bits, signed or not. */
export interface QuantType {
  readonly bits: number;
  readonly signed: boolean;
}

/** The narrowest ONNX integer type that holds values of `type` (4-bit types are packed). */
export function storageOf(type: QuantType): QuantStorageDType {
  const prefix = type.signed ? 'int' : 'uint';
  if (type.bits <= 4) return `${prefix}4` as QuantStorageDType;
  if (type.bits <= 8) return `${prefix}8` as QuantStorageDType;
  return `${prefix}16` as QuantStorageDType;
}

/** Bits each element takes in storage (the container, not the value width). */
export function storageBitsOf(type: QuantType): number {
  return type.bits <= 4 ? 4 : type.bits <= 8 ? 8 : 16;
}

/** Parses `int8`, `uint4`, `int16`, ... (2 to 16 bits). */
export function parseQuantType(text: string): QuantType {
  const match = /^(u?)int(\d+)$/.exec(text);
  const bits = match ? Number(match[2]) : Number.NaN;
  if (!match || bits < 2 || bits > 16) {
    throw new QgrainError(
      'invalid-spec',
      `invalid quantized type '${text}': expected int<bits> or uint<bits> with 2 to 16 bits, e.g. int8, uint8, int4`,
    );
  }
  return { bits, signed: match[1] === '' };
}

/** The text form: `int8`, `uint4`. */
export function formatQuantType(type: QuantType): string {
  return `${type.signed ? '' : 'u'}int${type.bits}`;
}
