// The operator-set versions at which the ONNX operators qgrain writes gained what qgrain needs.
// Every opset number the quantization stages rely on is named here, once (ONNX Operators.md).

/** QuantizeLinear/DequantizeLinear-13: per-axis scales and zero points (the `axis` attribute). */
export const QDQ_PER_AXIS_OPSET = 13;

/**
 * QuantizeLinear/DequantizeLinear-21: 4- and 16-bit integer types, `block_size` (per-block
 * scales), and float16 scales.
 */
export const QDQ_BLOCKED_OPSET = 21;

/** ReduceMax/ReduceMin-18 take their axes as an input instead of an attribute. */
export const REDUCE_AXES_INPUT_OPSET = 18;

/**
 * The least opset of dynamic quantization's graph: Round and Clip with min/max inputs (11) and
 * ReduceMax with an axes attribute, as 13 defines it.
 */
export const DYNAMIC_QUANTIZE_OPSET = 13;
