import { parseQuantSpec, qparamsFromData, quantize } from '@qgrain/granularity';
import { SeededRandom } from '@qgrain/test-harness';
import { unpackInt4 } from '@qgrain/tensor';
import { describe, expect, it } from 'vitest';
import { packMatMulNBits } from './matmul-nbits.js';

/** MatMulNBits' B written the plain way: column by column, block by block, code by code. */
function referenceB(values: Float32Array, k: number, n: number, text: string): Uint8Array {
  const spec = parseQuantSpec(text);
  const qp = qparamsFromData(values, [k, n], spec, { context: { channelAxis: 1, blockAxis: 0 } });
  const bits = spec.type.bits <= 4 ? 4 : 8;
  const shift = spec.type.signed ? 2 ** (bits - 1) : 0;
  const stored = quantize(values, qp);
  const codes = bits === 4 ? unpackInt4(stored as Uint8Array, k * n, spec.type.signed) : stored;
  const block = (spec.granularity as { size: number }).size;
  const blocks = Math.ceil(k / block);
  const blob = (block * bits) / 8;
  const b = new Uint8Array(n * blocks * blob);
  for (let col = 0; col < n; col++) {
    for (let blk = 0; blk < blocks; blk++) {
      const z = qp.zeroPoint[blk * n + col]! + shift;
      for (let j = 0; j < block; j++) {
        const row = blk * block + j;
        const code = row < k ? codes[row * n + col]! + shift : z;
        const at = (col * blocks + blk) * blob;
        if (bits === 8) b[at + j] = code;
        else b[at + (j >> 1)]! |= (code & 0x0f) << ((j & 1) * 4);
      }
    }
  }
  return b;
}

describe('packMatMulNBits', () => {
  const shapes = [
    [64, 8],
    [45, 7],
    [100, 33],
    [32, 1],
    [96, 6],
  ] as const;
  const schemes = ['int4/per-block:32', 'uint4/per-block:16', 'int8/per-block:32', 'uint8/per-block:16'];
  it.each(schemes)('%s: B equals the code-by-code layout for even, odd and ragged shapes', (text) => {
    const rng = new SeededRandom(3);
    for (const [k, n] of shapes) {
      const values = Float32Array.from({ length: k * n }, () => rng.normal() + 0.3);
      const spec = parseQuantSpec(text);
      const qp = qparamsFromData(values, [k, n], spec, { context: { channelAxis: 1, blockAxis: 0 } });
      expect(packMatMulNBits(values, qp).b, `${k}x${n}`).toEqual(referenceB(values, k, n, text));
    }
  });
});
