import {
  type Backend,
  QgrainError,
  type QuantStorage,
  allocateQuantStorage,
  formatShape,
  jsBackend,
} from '@qgrain/tensor';
import { sqnrFromSums } from './metrics.js';
import type { QParams } from './qparams.js';

function checkLength(length: number, qp: QParams, what: string): void {
  const expected = qp.layout.outer * qp.layout.dim * qp.layout.inner;
  if (length !== expected) {
    throw new QgrainError(
      'shape-mismatch',
      `${what} has ${length} elements but the qparams are for shape ${formatShape(qp.shape)} (${expected})`,
    );
  }
}

/** QuantizeLinear: saturate(roundHalfEven(x / scale) + zeroPoint) per group; 4-bit results are packed. */
export function quantize(x: Float32Array, qp: QParams, backend: Backend = jsBackend): QuantStorage {
  checkLength(x.length, qp, 'input');
  const out = allocateQuantStorage(qp.range, x.length);
  backend.quantize(x, qp.layout, qp.scale, qp.zeroPoint, qp.range, out);
  return out;
}

/** DequantizeLinear: (q - zeroPoint) * scale per group, in float32. */
export function dequantize(q: QuantStorage, qp: QParams, backend: Backend = jsBackend): Float32Array {
  const count = qp.layout.outer * qp.layout.dim * qp.layout.inner;
  const out = new Float32Array(count);
  backend.dequantize(q, qp.layout, qp.scale, qp.zeroPoint, qp.range, out);
  return out;
}

/** dequantize(quantize(x)): the values a quantized model computes with. */
export function fakeQuant(x: Float32Array, qp: QParams, backend: Backend = jsBackend): Float32Array {
  checkLength(x.length, qp, 'input');
  const out = new Float32Array(x.length);
  backend.fakeQuant(x, qp.layout, qp.scale, qp.zeroPoint, qp.range, out);
  return out;
}

/** SQNR in dB of fake-quantizing `x` with `qp` (+Infinity when the error is zero). */
export function quantizationSqnr(x: Float32Array, qp: QParams, backend: Backend = jsBackend): number {
  checkLength(x.length, qp, 'input');
  const { signal, noise } = backend.quantError(x, qp.layout, qp.scale, qp.zeroPoint, qp.range);
  return sqnrFromSums(signal, noise);
}
