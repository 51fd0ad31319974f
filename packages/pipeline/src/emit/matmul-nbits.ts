import { type QParams, quantize } from '@qgrain/granularity';
import type { Graph, NodeProto } from '@qgrain/onnx';
import { type Backend, QgrainError, Tensor, formatShape, jsBackend } from '@qgrain/tensor';

/** The operator set onnxruntime's contrib operators live in. */
export const MS_DOMAIN = 'com.microsoft';
/** The version of that operator set MatMulNBits is in. */
export const MS_DOMAIN_VERSION = 1;

/**
 * MatMulNBits' accuracy_level 1: compute in float32 (no int8 quantization of A), so the operator
 * computes the same function as DequantizeLinear -> MatMul up to summation order. Levels 2..4
 * trade that for speed (fp16, bf16, int8 A) and are the user's call, not a default.
 */
export const MATMUL_NBITS_ACCURACY_FLOAT32 = 1;

/** The smallest block MatMulNBits accepts (its spec: a power of 2, at least 16). */
export const MATMUL_NBITS_MIN_BLOCK = 16;

/** A [K, N] weight in MatMulNBits' storage: B, scales and (when not the default) zero points. */
export interface MatMulNBitsWeight {
  readonly k: number;
  readonly n: number;
  readonly bits: 4 | 8;
  readonly blockSize: number;
  /** [N, ceil(K / blockSize), blockSize * bits / 8]: codes along K, low bits first, last block padded. */
  readonly b: Uint8Array;
  /** [N * ceil(K / blockSize)], row n's blocks together. */
  readonly scales: Float32Array;
  /** [N * ceil(blocks * bits / 8)] packed like B, or undefined when every zero point is 2^(bits-1). */
  readonly zeroPoints: Uint8Array | undefined;
  /** Stored bytes of the three tensors. */
  readonly bytes: number;
}

function isPowerOfTwo(v: number): boolean {
  return v > 0 && (v & (v - 1)) === 0;
}

/**
 * Packs a [K, N] weight, quantized per block of `qp` along K (axis 0), into MatMulNBits' layout.
 * MatMulNBits stores unsigned codes with zero point 2^(bits-1) by default, so signed codes are
 * shifted by that much (a signed symmetric block then needs no zero point tensor at all). The
 * ragged last block is padded with its zero point's code, i.e. with weights of value 0.
 */
export function packMatMulNBits(
  values: Float32Array,
  qp: QParams,
  backend: Backend = jsBackend,
): MatMulNBitsWeight {
  const g = qp.granularity;
  const [k, n] = qp.shape as [number, number];
  if (qp.shape.length !== 2 || g.kind !== 'per-block' || g.axis !== 0) {
    throw new QgrainError(
      'unsupported',
      `MatMulNBits packs a 2-D [K, N] weight in blocks along K (axis 0); got ${formatShape(qp.shape)} with ${g.kind}${g.kind === 'per-block' ? ` along axis ${g.axis}` : ''}`,
    );
  }
  const bits = qp.range.storage === 'int4' || qp.range.storage === 'uint4' ? 4 : 8;
  const blockSize = g.size;
  if (!isPowerOfTwo(blockSize) || blockSize < MATMUL_NBITS_MIN_BLOCK) {
    throw new QgrainError(
      'invalid-spec',
      `MatMulNBits needs a power-of-two block size of at least ${MATMUL_NBITS_MIN_BLOCK}, got ${blockSize}; use the blocked DequantizeLinear form (format 'qdq') for this block size`,
      { value: blockSize, option: 'format' },
    );
  }
  if (!['int4', 'uint4', 'int8', 'uint8'].includes(qp.range.storage)) {
    throw new QgrainError('invalid-spec', `MatMulNBits stores 4 or 8-bit codes, not ${qp.range.storage}`);
  }
  const signed = qp.range.storage === 'int4' || qp.range.storage === 'int8';
  const shift = signed ? 2 ** (bits - 1) : 0;
  const defaultZero = 2 ** (bits - 1);
  const stored = quantize(values, qp, backend);
  const blocks = Math.ceil(k / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const b = new Uint8Array(n * blocks * blobSize);
  const scales = new Float32Array(n * blocks);
  const zero = new Uint8Array(n * blocks);
  let allDefault = true;
  for (let col = 0; col < n; col++) {
    for (let blk = 0; blk < blocks; blk++) {
      // qp's groups are [blocks, N] row-major (ONNX's blocked scale layout); MatMulNBits wants [N, blocks].
      const group = blk * n + col;
      const z = qp.zeroPoint[group]! + shift;
      scales[col * blocks + blk] = qp.scale[group]!;
      zero[col * blocks + blk] = z;
      if (z !== defaultZero) allDefault = false;
    }
  }
  // B is [N, blocks, blob]: the codes transposed, block row by block row, so that the codes being
  // read (blockSize rows of N) stay in cache. A 4-bit code is its packed nibble, top bit flipped
  // when signed (a signed nibble plus 8); rows past K pad the last block with the column's zero
  // point code, i.e. with weights of value 0.
  const flip = signed ? 8 : 0;
  const code = (row: number, col: number, z: number): number => {
    if (row >= k) return z;
    const e = row * n + col;
    if (bits === 8) return stored[e]! + shift;
    return (((stored as Uint8Array)[e >> 1]! >> ((e & 1) * 4)) & 0x0f) ^ flip;
  };
  const columnStride = blocks * blobSize;
  for (let blk = 0; blk < blocks; blk++) {
    const first = blk * blockSize;
    for (let j = 0; j < blockSize; j += bits === 4 ? 2 : 1) {
      const row = first + j;
      const offset = blk * blobSize + (bits === 4 ? j >> 1 : j);
      if (bits === 4 && n % 2 === 0 && row + 1 < k) {
        // Two rows of packed codes at once: each byte holds columns 2p and 2p + 1 of its row, and
        // each byte of B holds rows `row` and `row + 1` of one column.
        const packed = stored as Uint8Array;
        const flipBoth = flip * 0x11;
        const half = n / 2;
        const upper = row * half;
        const lower = upper + half;
        for (let p = 0; p < half; p++) {
          const x0 = packed[upper + p]! ^ flipBoth;
          const x1 = packed[lower + p]! ^ flipBoth;
          const at = 2 * p * columnStride + offset;
          b[at] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
          b[at + columnStride] = (x0 >> 4) | (x1 & 0xf0);
        }
        continue;
      }
      for (let col = 0; col < n; col++) {
        const z = zero[col * blocks + blk]!;
        const at = col * columnStride + offset;
        if (bits === 8) b[at] = code(row, col, z);
        else b[at] = (code(row, col, z) & 0x0f) | ((code(row + 1, col, z) & 0x0f) << 4);
      }
    }
  }
  let zeroPoints: Uint8Array | undefined;
  if (!allDefault) {
    if (bits === 8) zeroPoints = zero;
    else {
      // Each column's zero points are packed on their own, so a column with an odd block count ends half-used.
      const perColumn = Math.ceil(blocks / 2);
      zeroPoints = new Uint8Array(n * perColumn);
      for (let col = 0; col < n; col++) {
        for (let blk = 0; blk < blocks; blk++) {
          zeroPoints[col * perColumn + (blk >> 1)]! |= (zero[col * blocks + blk]! & 0x0f) << ((blk & 1) * 4);
        }
      }
    }
  }
  return {
    k,
    n,
    bits,
    blockSize,
    b,
    scales,
    zeroPoints,
    bytes: b.byteLength + scales.byteLength + (zeroPoints?.byteLength ?? 0),
  };
}

/**
 * Replaces `node` (a MatMul reading the weight as input 1, or an equivalent Gemm already reduced
 * to that form by the caller) with com.microsoft.MatMulNBits reading the packed weight, which is
 * added as initializers of `store` (the graph holding the float weight, default `graph`) unless
 * `names` says they are already there (a tied weight). Returns the initializer names so the next
 * reader of the same weight can share them.
 */
export function emitMatMulNBits(
  graph: Graph,
  node: NodeProto,
  activation: string,
  output: string,
  weightName: string,
  packed: MatMulNBitsWeight,
  names?: readonly string[],
  store: Graph = graph,
): string[] {
  const model = graph.model;
  let inputs = names ? [...names] : undefined;
  if (!inputs) {
    const blocks = Math.ceil(packed.k / packed.blockSize);
    const bName = model.uniqueName(`${weightName}_nbits`);
    const sName = model.uniqueName(`${weightName}_nbits_scale`);
    store.addInitializer(
      bName,
      new Tensor('uint8', [packed.n, blocks, (packed.blockSize * packed.bits) / 8], packed.b),
    );
    store.addInitializer(sName, new Tensor('float32', [packed.n * blocks], packed.scales));
    inputs = [bName, sName];
    if (packed.zeroPoints) {
      const zName = model.uniqueName(`${weightName}_nbits_zero_point`);
      store.addInitializer(zName, new Tensor('uint8', [packed.zeroPoints.length], packed.zeroPoints));
      inputs.push(zName);
    }
  }
  const at = graph.nodes.indexOf(node);
  graph.removeNode(node);
  graph.addNode(
    {
      opType: 'MatMulNBits',
      domain: MS_DOMAIN,
      name: model.uniqueName(`${node.name}_MatMulNBits`),
      inputs: [activation, ...inputs],
      outputs: [output],
      attributes: {
        K: packed.k,
        N: packed.n,
        bits: packed.bits,
        block_size: packed.blockSize,
        accuracy_level: MATMUL_NBITS_ACCURACY_FLOAT32,
      },
    },
    at,
  );
  model.raiseOpset(MS_DOMAIN_VERSION, MS_DOMAIN);
  return inputs;
}
