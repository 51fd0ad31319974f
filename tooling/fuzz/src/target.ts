import { parseModel, prepareModel, serializeModel } from '@qgrain/onnx';
import { quantize } from '@qgrain/pipeline';
import { QgrainError } from '@qgrain/tensor';

/** What one input did: finished, refused with a QgrainError code, or failed some other way. */
export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'qgrain'; readonly code: string; readonly message: string }
  | { readonly kind: 'failure'; readonly message: string; readonly stack: string };

/**
 * Runs one input the way `qgrain quantize --weights-only` does, in memory: read, prepare, then
 * weight-only quantization (block weights on odd inputs, per-channel QDQ on even ones, so both
 * paths are fuzzed), then serialisation. Any error that is not a QgrainError is a finding.
 */
export async function runTarget(bytes: Uint8Array, index: number): Promise<Outcome> {
  try {
    const model = parseModel(bytes, { source: 'mutant.onnx' });
    prepareModel(model, { foldBatchNorm: true });
    // Odd inputs take the block form of weight-only quantization, even ones per-channel Q/DQ.
    await quantize(model, {
      mode: 'weight-only',
      ...(index % 2 === 1 ? {} : { weights: 'int8/per-channel' }),
    });
    serializeModel(model);
    return { kind: 'ok' };
  } catch (error) {
    if (QgrainError.isInstance(error)) return { kind: 'qgrain', code: error.code, message: error.message };
    const e = error instanceof Error ? error : new Error(String(error));
    return { kind: 'failure', message: `${e.name}: ${e.message}`, stack: e.stack ?? '' };
  }
}
