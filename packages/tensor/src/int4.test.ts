import { describe, expect, it } from 'vitest';
import { packInt4, unpackInt4 } from './int4.js';

describe('int4 packing', () => {
  it('puts the lower index in the low nibble (ONNX order)', () => {
    expect([...packInt4([1, 2, 3])]).toEqual([0x21, 0x03]);
    expect([...packInt4([-1, -8])]).toEqual([0x8f]);
  });

  it.each([0, 1, 2, 7, 8, 33, 64, 1001])('round-trips %i signed and unsigned values', (n) => {
    const signed = Int8Array.from({ length: n }, (_, i) => ((i * 7 + 3) % 16) - 8);
    const unsigned = Uint8Array.from({ length: n }, (_, i) => (i * 5 + 1) % 16);
    expect(packInt4(signed).length).toBe(Math.ceil(n / 2));
    expect([...unpackInt4(packInt4(signed), n, true)]).toEqual([...signed]);
    expect([...unpackInt4(packInt4(unsigned), n, false)]).toEqual([...unsigned]);
  });

  it('leaves the unused high nibble of an odd length zero', () => {
    const packed = packInt4(Int8Array.of(-1, -1, -1));
    expect(packed[1]).toBe(0x0f);
  });
});
