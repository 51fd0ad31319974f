export type { Backend, QuantErrorSums, QuantRange, QuantStorage, QuantStorageDType } from './backend.js';
export {
  type DType,
  type DTypeInfo,
  type DTypeStorage,
  type TensorData,
  DTYPES,
  allocate,
  dtypeInfo,
  isDType,
  storageLength,
} from './dtype.js';
export {
  QgrainError,
  type QgrainErrorCode,
  type QgrainErrorContext,
  type QgrainErrorOptions,
} from './errors.js';
export {
  bfloat16ArrayToFloat32,
  bfloat16BitsToFloat32,
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToBfloat16,
  float32ArrayToFloat16,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from './float16.js';
export {
  type GroupLayout,
  assertLayoutFits,
  forEachSegment,
  groupMembers,
  groupOf,
  perAxisLayout,
  perBlockLayout,
  perTensorLayout,
} from './group-layout.js';
export { int4ByteLength, packInt4, unpackInt4 } from './int4.js';
export {
  allocateQuantStorage,
  dequantizeValue,
  jsBackend,
  quantizeValue,
  roundHalfToEven,
} from './js-backend.js';
export { assertShape, formatShape, normalizeAxis, shapeSize } from './shape.js';
export { Tensor } from './tensor.js';
export { countNonFinite } from './non-finite.js';
