import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { QgrainError } from '@qgrain/tensor';
import { fileExternalData } from './external-data.js';
import { type Model, parseModel } from './model.js';

// protobuf messages, so .onnx files, cannot exceed 2 GiB; weights beyond that live in external data.
const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * Reads an .onnx file. The file is read whole (it is below protobuf's 2 GiB limit); tensors in
 * external data files stay on disk and are read by offset when asked for. External data
 * locations are checked here, so an unsafe model fails at load, before any weight is read.
 */
export async function readModel(path: string): Promise<Model> {
  const file = resolve(path);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new QgrainError('io', `cannot read model ${file}: ${why}; check the path`, { cause: error });
  }
  if (info.isDirectory()) {
    throw new QgrainError(
      'io',
      `cannot read model ${file}: it is a directory; pass the path of the .onnx file inside it`,
    );
  }
  if (info.size > PROTOBUF_LIMIT) {
    throw new QgrainError(
      'invalid-model',
      `${file} is ${info.size} bytes, more than protobuf's 2 GiB limit, so it is not a valid .onnx file; export large models with external data`,
    );
  }
  if (info.size === 0) {
    throw new QgrainError('invalid-model', `${file} is empty; re-download or re-export the model`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new QgrainError('io', `cannot read model ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseModel(bytes, { source: file, externalData: fileExternalData(dirname(file)) });
}
