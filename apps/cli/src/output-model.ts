import { basename } from 'node:path';
import {
  DEFAULT_EXTERNAL_THRESHOLD,
  type Model,
  PROTOBUF_MAX_BYTES,
  type WriteResult,
  inlineModelSize,
  writeModel,
} from '@qgrain/onnx';
import { formatBytes } from './byte-size.js';
import { refuseOverwritingInput } from './output-guard.js';

/** How a command writes its output model: the external data flags and the one-file limit. */
export interface OutputModelOptions {
  /** `--external-data`: initializers of `threshold` bytes or more go to `<output>.data`. */
  readonly externalData?: boolean;
  /** `--external-data-threshold` (default DEFAULT_EXTERNAL_THRESHOLD). */
  readonly threshold?: number;
  /**
   * The largest output written as one file; above it external data is used without being asked
   * for (default PROTOBUF_MAX_BYTES, which no .onnx file may pass). Lowered only by tests.
   */
  readonly limit?: number;
  /** The input model, whose files the output must not replace. */
  readonly input: Model;
}

/** What `writeOutputModel` wrote, and the note to show when it chose external data by itself. */
export interface OutputModel {
  readonly written: WriteResult;
  readonly note: string | undefined;
}

/**
 * Writes `model` to `output` atomically, with external data when asked for, or by itself when
 * the model as one file would pass the protobuf limit (then `note` says so). The size check
 * counts bytes without reading any weight.
 */
export async function writeOutputModel(
  model: Model,
  output: string,
  options: OutputModelOptions,
): Promise<OutputModel> {
  const threshold = options.threshold ?? DEFAULT_EXTERNAL_THRESHOLD;
  const limit = options.limit ?? PROTOBUF_MAX_BYTES;
  let externalData = options.externalData === true;
  let note: string | undefined;
  if (!externalData) {
    const inline = inlineModelSize(model);
    if (inline > limit) {
      externalData = true;
      note =
        `the output as one file would be ${formatBytes(inline)}, more than the ${formatBytes(limit)} a protobuf ` +
        `(so an .onnx file) can hold: initializers of ${threshold} bytes or more were written to ${basename(output)}.data`;
    }
  }
  if (externalData) await refuseOverwritingInput(options.input, [`${output}.data`]);
  const written = await writeModel(model, output, { externalData, threshold });
  return { written, note };
}
