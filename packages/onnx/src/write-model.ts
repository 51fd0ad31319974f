import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { QgrainError, shapeSize } from '@qgrain/tensor';
import { onnxByteLength } from './data-type.js';
import { tensorProtoBytes } from './initializer.js';
import type { Model } from './model.js';
import type { TensorProto } from './proto-types.js';
import { cloneMessage, encodeModelProto, inlineTensor, placeTensors } from './serialize.js';
import { tensorDims } from './tensor-proto.js';

/** Tensors at least this large go to external data by default (ONNX's own converter uses 1 KiB too). */
export const DEFAULT_EXTERNAL_THRESHOLD = 1024;

/** External data offsets are multiples of this, so a runtime can map tensors page by page. */
export const EXTERNAL_DATA_ALIGNMENT = 4096;

/** Options of `writeModel`. */
export interface WriteOptions {
  /** Move initializers of `threshold` bytes or more to one data file beside the model. Default false. */
  readonly externalData?: boolean;
  /** Size in bytes from which an initializer goes to external data. Default 1024. */
  readonly threshold?: number;
  /** Name of the data file (in the model's folder). Default: the model file name + '.data'. */
  readonly dataFileName?: string;
}

/** What `writeModel` wrote. */
export interface WriteResult {
  readonly modelPath: string;
  readonly modelBytes: number;
  /** The data file, when external data was written. */
  readonly dataPath: string | undefined;
  readonly dataBytes: number;
  readonly externalTensors: number;
}

interface PlannedTensor {
  readonly source: TensorProto;
  readonly offset: number;
  readonly length: number;
}

/**
 * Writes a model atomically: each file is written to a temporary file in the target folder and
 * renamed into place, so a reader never sees half a model and the input files are never
 * modified. Tensors read from external data are read here (one at a time) and written inline or
 * to the new data file.
 */
export async function writeModel(
  model: Model,
  path: string,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const modelPath = resolve(path);
  const dir = dirname(modelPath);
  const threshold = options.threshold ?? DEFAULT_EXTERNAL_THRESHOLD;
  const dataName = options.dataFileName ?? `${basename(modelPath)}.data`;
  if (options.externalData && (dataName.includes('/') || dataName.includes('\\') || dataName === '..')) {
    throw new QgrainError(
      'invalid-argument',
      `dataFileName '${dataName}' must be a plain file name in the model's folder`,
    );
  }

  const planned: PlannedTensor[] = [];
  let end = 0;
  const proto = placeTensors(model.proto, (tensor, isInitializer) => {
    const length = onnxByteLength(tensor.dataType, shapeSize(tensorDims(tensor)));
    if (!options.externalData || !isInitializer || length === undefined || length < threshold) {
      return inlineTensor(tensor, model.externalData);
    }
    const offset = Math.ceil(end / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
    end = offset + length;
    planned.push({ source: tensor, offset, length });
    const copy = cloneMessage(tensor);
    for (const field of [
      'rawData',
      'floatData',
      'int32Data',
      'int64Data',
      'doubleData',
      'uint64Data',
    ] as const) {
      delete (copy as Partial<TensorProto>)[field];
    }
    copy.dataLocation = 1;
    copy.externalData = [
      { key: 'location', value: dataName },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ];
    return copy;
  });

  let dataPath: string | undefined;
  if (planned.length > 0) {
    dataPath = join(dir, dataName);
    await writeAtomically(dataPath, async (handle) => {
      for (const t of planned) {
        const bytes = tensorProtoBytes(t.source, model.externalData);
        if (bytes.byteLength !== t.length) {
          throw new QgrainError(
            'invalid-model',
            `tensor '${t.source.name}' has ${bytes.byteLength} bytes of data but its type and dims need ${t.length}; fix the model before writing it`,
          );
        }
        await writeFully(handle, bytes, t.offset);
      }
    });
  }
  const encoded = encodeModelProto(proto);
  await writeAtomically(modelPath, (handle) => writeFully(handle, encoded, 0));
  return {
    modelPath,
    modelBytes: encoded.byteLength,
    dataPath,
    dataBytes: end,
    externalTensors: planned.length,
  };
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}

async function writeAtomically(path: string, fill: (handle: FileHandle) => Promise<void>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx');
    await fill(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true });
    if (QgrainError.isInstance(error)) throw error;
    throw new QgrainError(
      'io',
      `cannot write ${path}: ${(error as Error).message}; check that the folder exists and is writable`,
      { cause: error },
    );
  }
}
