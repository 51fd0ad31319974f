import protobuf from 'protobufjs';

// Protobuf-aware mutation at the wire level: the encoded model is walked with its schema, each
// field's tag, length prefix and value located, and one field changed while the length prefixes
// of the messages around it are re-encoded. The decoder then sees a well-formed message with
// one deliberate lie in it, which reaches far deeper than random bytes do.

/** One field of the encoded model, with the length prefixes of the messages that contain it. */
export interface FieldSpan {
  readonly fieldNo: number;
  readonly wireType: number;
  /** Offset of the tag. */
  readonly start: number;
  /** Offset of the value (after the tag). */
  readonly valueStart: number;
  /** Offset just past the field. */
  readonly end: number;
  /** For length-delimited fields: offset of the payload (after the length varint). */
  readonly dataStart?: number;
  /** Whether the payload is a message of the schema (then its fields are spans too). */
  readonly message: boolean;
  /** Length prefixes of the enclosing messages, innermost first. */
  readonly parents: readonly {
    readonly lenStart: number;
    readonly lenEnd: number;
    readonly length: number;
  }[];
}

// Spans are collected up to this many per model: enough to cover every node and tensor header
// of the corpus models, while a forged input cannot make the walk itself expensive.
const MAX_SPANS = 200_000;

/** Every field of `bytes` decoded as `type`, depth first. Stops quietly at anything malformed. */
export function fieldSpans(bytes: Uint8Array, type: protobuf.Type): FieldSpan[] {
  type.root.resolveAll();
  const out: FieldSpan[] = [];
  const walk = (t: protobuf.Type, from: number, to: number, parents: FieldSpan['parents']): void => {
    const reader = protobuf.Reader.create(bytes);
    reader.pos = from;
    while (reader.pos < to && out.length < MAX_SPANS) {
      const start = reader.pos;
      let tag: number;
      try {
        tag = reader.uint32();
      } catch {
        return;
      }
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      const valueStart = reader.pos;
      const field = t.fieldsById[fieldNo];
      try {
        if (wireType === 2) {
          const length = reader.uint32();
          const dataStart = reader.pos;
          const end = dataStart + length;
          if (end > to) return;
          const sub = field?.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
          out.push({ fieldNo, wireType, start, valueStart, end, dataStart, message: !!sub, parents });
          if (sub)
            walk(sub, dataStart, end, [{ lenStart: valueStart, lenEnd: dataStart, length }, ...parents]);
          reader.pos = end;
        } else if (wireType === 0 || wireType === 1 || wireType === 5) {
          reader.skipType(wireType);
          out.push({ fieldNo, wireType, start, valueStart, end: reader.pos, message: false, parents });
        } else {
          return;
        }
      } catch {
        return;
      }
    }
  };
  walk(type, 0, bytes.length, []);
  return out;
}

/** The varint encoding of a non-negative bigint below 2^64. */
export function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/**
 * `bytes` with [from, to) replaced by `replacement`, the enclosing length prefixes (`parents`,
 * innermost first) re-encoded for the new size. Inner prefixes sit after outer ones in the file,
 * so rewriting them innermost first never moves an outer prefix.
 */
export function splice(
  bytes: Uint8Array,
  from: number,
  to: number,
  replacement: Uint8Array,
  parents: FieldSpan['parents'],
): Uint8Array {
  const pieces: Uint8Array[] = [bytes.subarray(to)];
  let cursor = to;
  let delta = replacement.length - (to - from);
  pieces.unshift(replacement);
  cursor = from;
  for (const p of parents) {
    pieces.unshift(bytes.subarray(p.lenEnd, cursor));
    const encoded = varint(BigInt(p.length + delta));
    pieces.unshift(encoded);
    delta += encoded.length - (p.lenEnd - p.lenStart);
    cursor = p.lenStart;
  }
  pieces.unshift(bytes.subarray(0, cursor));
  const total = pieces.reduce((n, piece) => n + piece.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
