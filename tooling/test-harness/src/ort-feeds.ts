import ort from 'onnxruntime-node';
import { SeededRandom } from './random.js';

/** A fixed shape and/or fixed values for one model input, overriding what metadata says. */
export interface InputOverride {
  readonly shape?: readonly number[];
  readonly values?: readonly number[];
}

/**
 * Seeded feeds for every input of a session, built from its input metadata: symbolic dimensions
 * become 1 unless an override gives the shape; floats are normal(0, 1) and integers small.
 */
export function seededFeeds(
  session: ort.InferenceSession,
  seed: number,
  overrides: Readonly<Record<string, InputOverride>> = {},
): Record<string, ort.Tensor> {
  const rng = new SeededRandom(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor)
      throw new Error(`input '${meta.name}' is not a tensor; seededFeeds only builds tensors`);
    const override = overrides[meta.name];
    const shape = override?.shape ?? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const count = shape.reduce((a, b) => a * b, 1);
    const value = (i: number): number => override?.values?.[i % override.values.length] ?? rng.normal();
    switch (meta.type) {
      case 'float32':
        feeds[meta.name] = new ort.Tensor(
          'float32',
          Float32Array.from({ length: count }, (_, i) => value(i)),
          shape,
        );
        break;
      case 'int64':
        feeds[meta.name] = new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: count }, (_, i) =>
            BigInt(Math.round(override?.values ? value(i) : rng.int(0, 3))),
          ),
          shape,
        );
        break;
      case 'int32':
        feeds[meta.name] = new ort.Tensor(
          'int32',
          Int32Array.from({ length: count }, (_, i) => Math.round(value(i))),
          shape,
        );
        break;
      default:
        throw new Error(
          `input '${meta.name}' has type ${meta.type}; seededFeeds builds float32, int32 and int64`,
        );
    }
  }
  return feeds;
}

/** Input overrides that make each real model of the corpus run on meaningful shapes. */
export function realModelInputs(id: string): Record<string, InputOverride> {
  if (id.startsWith('silero-vad')) {
    // 16 kHz audio in 512-sample windows with a zero recurrent state, as silero's own runner feeds it.
    return {
      input: { shape: [1, 512] },
      state: { shape: [2, 1, 128], values: [0] },
      sr: { shape: [], values: [16000] },
    };
  }
  if (id === 'ppocr-v4-det') return { x: { shape: [1, 3, 96, 96] } };
  if (id === 'ppocr-v4-rec') return { x: { shape: [1, 3, 48, 160] } };
  if (id === 'ppocr-cls') return { x: { shape: [1, 3, 48, 192] } };
  return {};
}

/** Runs a session and returns every output as a plain array, by output name. */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, { dims: readonly number[]; data: ArrayLike<number> }>> {
  const results = await session.run(feeds);
  const out: Record<string, { dims: readonly number[]; data: ArrayLike<number> }> = {};
  for (const name of session.outputNames) {
    const t = results[name]!;
    const data = t.data as ArrayLike<number> | BigInt64Array;
    out[name] = { dims: t.dims, data: data instanceof BigInt64Array ? Array.from(data, Number) : data };
  }
  return out;
}
