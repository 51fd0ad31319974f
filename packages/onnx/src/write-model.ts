import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { QgrainError, shapeSize } from '@qgrain/tensor';
import { onnxByteLength } from './data-type.js';
import { tensorProtoBytes } from './initializer.js';
import { type Model, allTensorProtos } from './model.js';
import type { ModelProto, TensorProto } from './proto-types.js';
import { onnxTypes } from './schema.js';
import { cloneMessage, encodeModelProto, inlineTensor, placeTensors } from './serialize.js';
import {
  EXTERNAL_DATA_ALIGNMENT,
  externalDataInfo,
  pointToExternalData,
  tensorDims,
  tensorStorage,
} from './tensor-proto.js';

import { removeOnSignal } from './temp-files.js';

/** Tensors at least this large go to external data by default (ONNX's own converter uses 1 KiB too). */
export const DEFAULT_EXTERNAL_THRESHOLD = 1024;

/** Options of `writeModel`. */
export interface WriteOptions {
  /** Move initializers of `threshold` bytes or more to one data file beside the model. Default false. */
  readonly externalData?: boolean;
  /** Size in bytes from which an initializer goes to external data. Default 1024. */
  readonly threshold?: number;
  /**
   * Name of the data file (in the model's folder). Default: the model file name, the first 16
   * hex digits of the data's SHA-256 and '.data' (`model.onnx.3f2a....data`), so that the model
   * and its data are replaced as one unit. A fixed name gives that up: a reader can then see a
   * new model beside an old data file while the two files are renamed.
   */
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
  /** The copy written in the model, whose location is set once the data file is named. */
  readonly written: TensorProto;
  readonly offset: number;
  readonly length: number;
}

// Digits of the data's SHA-256 in the default data file name: 64 bits, so two different data
// files of one model never share a name by chance.
const DATA_HASH_DIGITS = 16;

// A previous model at the target is read (to remove the data file it referenced) only up to
// this size: a larger one holds its weights inline, and reading it would cost more than it frees.
const PREVIOUS_MODEL_SCAN_LIMIT = 256 * 1024 * 1024;

/** Our temporary files for `target`: `.<name>.<pid>.<8 hex>.tmp`, `.data.tmp` for data files. */
function tempPattern(target: string): RegExp {
  const name = target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${name}\\.(\\d+)\\.[0-9a-f]{8}(\\.data)?\\.tmp$`);
}

/** Data file names writeModel gives `<name>` by default, and the fixed name of older versions. */
function ownDataFile(model: string, file: string): boolean {
  const name = model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${name}(\\.[0-9a-f]{${DATA_HASH_DIGITS}})?\\.data$`).test(file);
}

/**
 * Writes a model atomically: each file is written to a temporary file in the target folder and
 * renamed into place, so a reader never sees half a model and the input files are never
 * modified. With external data, model and data are one unit: the data file gets a name of its
 * own (from its content's hash) and is in place before the model that names it, and the data file
 * of the model replaced is removed last, so a reader sees the old pair or the new pair, never a
 * mix. Temporary files are removed on failure and on SIGINT/SIGTERM, and those of killed runs
 * (`.<name>.<pid>.<hex>.tmp` whose process is gone) by the next write to the same path.
 * Tensors read from external data are read here (one at a time) and written inline or to the
 * new data file.
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
    const copy = cloneMessage(tensor);
    planned.push({ source: tensor, written: copy, offset, length });
    pointToExternalData(copy, dataName, offset, length);
    return copy;
  });

  // Temporary files left by a killed earlier run are ours to remove; a live run keeps its own.
  await removeStaleTemps(dir, basename(modelPath));
  const previous = await referencedDataFiles(modelPath);

  let dataPath: string | undefined;
  let writtenName: string | undefined;
  if (planned.length > 0) {
    const temp = tempName(modelPath, '.data');
    const hash = createHash('sha256');
    await writeTemp(temp, join(dir, dataName), async (handle) => {
      let at = 0;
      for (const t of planned) {
        const bytes = tensorProtoBytes(t.source, model.externalData);
        if (bytes.byteLength !== t.length) {
          throw new QgrainError(
            'invalid-model',
            `tensor '${t.source.name}' has ${bytes.byteLength} bytes of data but its type and dims need ${t.length}; fix the model before writing it`,
            { tensor: t.source.name },
          );
        }
        // The gap before an aligned offset reads back as zeros: hash it as such.
        if (t.offset > at) hash.update(new Uint8Array(t.offset - at));
        hash.update(bytes);
        await writeFully(handle, bytes, t.offset);
        at = t.offset + t.length;
      }
    });
    writtenName =
      options.dataFileName ?? `${basename(modelPath)}.${hash.digest('hex').slice(0, DATA_HASH_DIGITS)}.data`;
    for (const t of planned) t.written.externalData[0]!.value = writtenName;
    dataPath = join(dir, writtenName);
    // The data goes in place first, under a name no earlier model refers to (or with the same
    // bytes, when the name is the same): the model that names it is renamed in only afterwards.
    await renameInto(temp, dataPath);
  }
  const encoded = encodeModelProto(proto);
  const temp = tempName(modelPath, '');
  await writeTemp(temp, modelPath, (handle) => writeFully(handle, encoded, 0));
  await renameInto(temp, modelPath);
  // Last, the data file the replaced model used, unless the model now in place still uses it.
  for (const file of previous) {
    if (file === writtenName || !ownDataFile(basename(modelPath), file)) continue;
    if ((await referencedDataFiles(modelPath)).includes(file)) continue;
    await rm(join(dir, file), { force: true }).catch(() => undefined);
  }
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

function tempName(path: string, suffix: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}${suffix}.tmp`,
  );
}

function ioError(path: string, error: unknown): QgrainError {
  if (QgrainError.isInstance(error)) return error;
  return new QgrainError(
    'io',
    `cannot write ${path}: ${(error as Error).message}; check that the folder exists and is writable`,
    { file: path, cause: error },
  );
}

/** Writes `temp` through `fill` and syncs it; removes it on failure (or on SIGINT/SIGTERM meanwhile). */
async function writeTemp(
  temp: string,
  target: string,
  fill: (handle: FileHandle) => Promise<void>,
): Promise<void> {
  const release = removeOnSignal(temp);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx');
    await fill(handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true });
    release();
    throw ioError(target, error);
  }
  release();
}

/** Renames a finished temporary file over `path` (atomic within one folder). */
async function renameInto(temp: string, path: string): Promise<void> {
  const release = removeOnSignal(temp);
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw ioError(path, error);
  } finally {
    release();
  }
}

/** True when no process with this id runs (so a temporary file it named is abandoned). */
function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Removes our temporary files for `name` in `dir` whose writing process is gone. */
async function removeStaleTemps(dir: string, name: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  const pattern = tempPattern(name);
  for (const entry of entries) {
    const match = pattern.exec(entry);
    if (match && processGone(Number(match[1])))
      await rm(join(dir, entry), { force: true }).catch(() => undefined);
  }
}

/** The external data files the model now at `path` refers to (none when there is none, or it does not parse). */
async function referencedDataFiles(path: string): Promise<string[]> {
  try {
    if ((await stat(path)).size > PREVIOUS_MODEL_SCAN_LIMIT) return [];
    const proto = onnxTypes.model.decode(await readFile(path)) as unknown as ModelProto;
    const out = new Set<string>();
    for (const t of allTensorProtos(proto)) {
      if (tensorStorage(t) === 'external') out.add(externalDataInfo(t).location);
    }
    return [...out];
  } catch {
    return [];
  }
}
