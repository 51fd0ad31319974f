// How many bytes a model would take as one .onnx file, known without writing it. Encoding a
// model to measure it would read every external tensor and hold the whole file in memory, which
// is what a model with external data is meant to avoid; counting the encoder's writes costs
// nothing but the walk over the messages.
import { QgrainError, shapeSize } from '@qgrain/tensor';
import protobuf from 'protobufjs';
import { onnxByteLength } from './data-type.js';
import type { Model } from './model.js';
import type { TensorProto } from './proto-types.js';
import { onnxTypes } from './schema.js';
import { cloneMessage, placeTensors } from './serialize.js';
import { externalDataInfo, tensorDims, tensorStorage } from './tensor-proto.js';

/** The largest protobuf message, so the largest .onnx file: 2 GiB less one byte. */
export const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;

const { LongBits, utf8 } = protobuf.util;

function varint32Size(value: number): number {
  const v = value >>> 0;
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function varint64Size(value: unknown): number {
  return LongBits.from(value as number).length();
}

/**
 * A protobufjs Writer that only counts: every method the generated encoders call advances a
 * position by what the real writer would write, and `fork`/`ldelim` add the length prefixes of
 * nested messages. Byte fields are measured by their length, never read.
 */
class CountingWriter {
  pos = 0;
  private readonly forks: number[] = [];

  uint32(value: number): this {
    this.pos += varint32Size(value);
    return this;
  }
  int32(value: number): this {
    this.pos += (value | 0) < 0 ? 10 : varint32Size(value);
    return this;
  }
  sint32(value: number): this {
    return this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }
  uint64(value: unknown): this {
    this.pos += varint64Size(value);
    return this;
  }
  int64(value: unknown): this {
    return this.uint64(value);
  }
  sint64(value: unknown): this {
    this.pos += LongBits.from(value as number)
      .zzEncode()
      .length();
    return this;
  }
  bool(): this {
    this.pos += 1;
    return this;
  }
  fixed32(): this {
    this.pos += 4;
    return this;
  }
  sfixed32(): this {
    return this.fixed32();
  }
  float(): this {
    return this.fixed32();
  }
  fixed64(): this {
    this.pos += 8;
    return this;
  }
  sfixed64(): this {
    return this.fixed64();
  }
  double(): this {
    return this.fixed64();
  }
  bytes(value: { readonly length: number } | string): this {
    const length = typeof value === 'string' ? protobuf.util.base64.length(value) : value.length;
    this.pos += varint32Size(length) + length;
    return this;
  }
  string(value: string): this {
    const length = utf8.length(value);
    this.pos += varint32Size(length) + length;
    return this;
  }
  raw(value: { readonly length: number }): this {
    this.pos += value.length;
    return this;
  }
  private packed(count: number, each: (i: number) => number): this {
    let length = 0;
    for (let i = 0; i < count; i++) length += each(i);
    this.pos += varint32Size(length) + length;
    return this;
  }
  uint32s(values: ArrayLike<number>): this {
    return this.packed(values.length, (i) => varint32Size(values[i]!));
  }
  int32s(values: ArrayLike<number>): this {
    return this.packed(values.length, (i) => ((values[i]! | 0) < 0 ? 10 : varint32Size(values[i]!)));
  }
  sint32s(values: ArrayLike<number>): this {
    return this.packed(values.length, (i) => varint32Size(((values[i]! << 1) ^ (values[i]! >> 31)) >>> 0));
  }
  uint64s(values: ArrayLike<unknown>): this {
    return this.packed(values.length, (i) => varint64Size(values[i]));
  }
  int64s(values: ArrayLike<unknown>): this {
    return this.uint64s(values);
  }
  sint64s(values: ArrayLike<unknown>): this {
    return this.packed(values.length, (i) =>
      LongBits.from(values[i] as number)
        .zzEncode()
        .length(),
    );
  }
  bools(values: ArrayLike<unknown>): this {
    return this.packed(values.length, () => 1);
  }
  fixed32s(values: ArrayLike<unknown>): this {
    return this.packed(values.length, () => 4);
  }
  sfixed32s(values: ArrayLike<unknown>): this {
    return this.fixed32s(values);
  }
  floats(values: ArrayLike<unknown>): this {
    return this.fixed32s(values);
  }
  fixed64s(values: ArrayLike<unknown>): this {
    return this.packed(values.length, () => 8);
  }
  sfixed64s(values: ArrayLike<unknown>): this {
    return this.fixed64s(values);
  }
  doubles(values: ArrayLike<unknown>): this {
    return this.fixed64s(values);
  }
  fork(): this {
    this.forks.push(this.pos);
    return this;
  }
  ldelim(): this {
    const start = this.forks.pop();
    if (start === undefined) throw new QgrainError('internal', 'model size: ldelim without fork');
    this.pos += varint32Size(this.pos - start);
    return this;
  }
}

/** A stand-in for raw_data of `length` bytes: the counting writer reads only its length. */
function sizedPlaceholder(length: number): Uint8Array {
  return { length } as unknown as Uint8Array;
}

/** The tensor as it would be written inline, with its external bytes stood in for by their length. */
function inlinePlaceholder(tensor: TensorProto): TensorProto {
  if (tensorStorage(tensor) !== 'external') return tensor;
  const length =
    onnxByteLength(tensor.dataType, shapeSize(tensorDims(tensor))) ?? externalDataInfo(tensor).length;
  if (length === undefined) {
    throw new QgrainError(
      'invalid-model',
      `tensor '${tensor.name}' is in external data without a length, and its type does not fix one; re-export the model with its external data`,
      { tensor: tensor.name },
    );
  }
  const copy = cloneMessage(tensor);
  copy.rawData = sizedPlaceholder(length);
  copy.externalData = [];
  delete (copy as Partial<TensorProto>).dataLocation;
  return copy;
}

/**
 * The byte length `serializeModel(model)` would return (every tensor inline), counted without
 * reading external data or encoding anything: compare it with PROTOBUF_MAX_BYTES to know whether
 * the model fits one .onnx file.
 */
export function inlineModelSize(model: Model): number {
  const proto = placeTensors(model.proto, (t) => inlinePlaceholder(t));
  const writer = new CountingWriter();
  onnxTypes.model.encode(proto as unknown as Record<string, unknown>, writer as unknown as protobuf.Writer);
  return writer.pos;
}
