// One weight's quantization, whole: parameters, clipping, bias widening, SQNR and the stored
// integers. The calling thread and the worker threads run this same function, so the bytes of a
// weight cannot depend on where it was quantized; only the graph edits stay on the calling thread.
import {
  type QParams,
  type QuantSpec,
  qparamsFromData,
  quantizationSqnr,
  quantize,
} from '@qgrain/granularity';
import type { Backend, QuantStorage } from '@qgrain/tensor';
import { type MatMulNBitsWeight, packMatMulNBits } from '../emit/matmul-nbits.js';
import { type BiasNeed, type Widening, widenScales } from '../modes/bias-widening.js';
import { type ClipMethod, searchClipping } from '../modes/clip-search.js';

/** What to do with one weight's values (plain data: it crosses to a worker by structured clone). */
export interface WeightTask {
  /** The weight's initializer name: errors name it. */
  readonly name: string;
  readonly spec: QuantSpec;
  /** The shape the values are quantized in (a block view may differ from the initializer's dims). */
  readonly shape: readonly number[];
  readonly context: { readonly channelAxis: number; readonly blockAxis: number };
  readonly clip?: ClipMethod;
  /** The integers of a DequantizeLinear, or MatMulNBits' packed B (of a [K, N] view). */
  readonly form: 'qdq' | 'matmulnbits';
  /** Scale floors that int32 biases need (static mode, per-channel weights): see bias-widening.ts. */
  readonly biasNeeds?: readonly BiasNeed[];
}

/** What quantizing one weight produced. */
export interface WeightTaskResult {
  /** The parameters written: round-to-nearest, then clipped and widened where asked. */
  readonly qp: QParams;
  /** SQNR (dB) of `qp`. */
  readonly sqnrDb: number;
  /** SQNR (dB) of the round-to-nearest parameters. */
  readonly rtnSqnrDb: number;
  /** True when the clipping search moved some range. */
  readonly clipped: boolean;
  readonly widenings: readonly Widening[];
  /** `quantize(values, qp)`, for the qdq form. */
  readonly stored?: QuantStorage;
  /** The packed weight, for the matmulnbits form. */
  readonly packed?: MatMulNBitsWeight;
}

/** Quantizes one weight's float values as `task` says, with the arithmetic of `backend`. */
export function runWeightTask(values: Float32Array, task: WeightTask, backend: Backend): WeightTaskResult {
  const rtn = qparamsFromData(values, task.shape, task.spec, {
    backend,
    context: task.context,
    name: task.name,
  });
  const rtnSqnrDb = quantizationSqnr(values, rtn, backend);
  const searched = task.clip === 'mse' ? searchClipping(values, rtn) : rtn;
  const { qp, widenings } = task.biasNeeds
    ? widenScales(searched, task.biasNeeds)
    : { qp: searched, widenings: [] };
  // Round-to-nearest kept: its error is already measured.
  const sqnrDb = qp === rtn ? rtnSqnrDb : quantizationSqnr(values, qp, backend);
  const result = { qp, sqnrDb, rtnSqnrDb, clipped: searched !== rtn, widenings };
  return task.form === 'matmulnbits'
    ? { ...result, packed: packMatMulNBits(values, qp, backend) }
    : { ...result, stored: quantize(values, qp, backend) };
}

/** The large buffers of a result: a worker hands them over instead of copying them. */
export function resultBuffers(result: WeightTaskResult): ArrayBuffer[] {
  const arrays = [
    result.qp.scale,
    result.qp.zeroPoint,
    result.stored,
    result.packed?.b,
    result.packed?.scales,
    result.packed?.zeroPoints,
  ];
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a && a.byteLength === a.buffer.byteLength) buffers.add(a.buffer as ArrayBuffer);
  return [...buffers];
}
