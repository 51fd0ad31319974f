import ort from 'onnxruntime-node';
import { SeededRandom } from './random.js';

/** Silero VAD's rate and window at 16 kHz: 512 samples (32 ms) per call, as its own runner feeds it. */
export const VAD_SAMPLE_RATE = 16000;
export const VAD_WINDOW = 512;

/** The frequency of the synthetic tone: A4, inside the speech band the detector listens to. */
const TONE_HZ = 440;
/** Noise level of both signals (standard deviation, full scale 1): quiet, as a room is. */
const NOISE_STD = 0.05;
/** Tone amplitude: loud enough to stand well above the noise. */
const TONE_AMPLITUDE = 0.5;

/** Seeded test audio for a voice activity detector: noise alone, and a tone in the same noise. */
export function vadSignals(windows: number, seed = 1): { noise: Float32Array; tone: Float32Array } {
  const length = windows * VAD_WINDOW;
  const rng = new SeededRandom(seed);
  const noise = Float32Array.from({ length }, () => rng.normal() * NOISE_STD);
  const tone = Float32Array.from(
    noise,
    (n, i) => n + TONE_AMPLITUDE * Math.sin((2 * Math.PI * TONE_HZ * i) / VAD_SAMPLE_RATE),
  );
  return { noise, tone };
}

/** Recurrent state inputs of the silero family and the outputs that carry them to the next window. */
const STATE_OUTPUTS: Readonly<Record<string, string>> = { state: 'stateN', h: 'hn', c: 'cn' };

/**
 * Runs a silero VAD model over `signal` window by window, carrying its recurrent state from one
 * window to the next as a stream would, and returns the speech probability of each window.
 */
export async function vadProbabilities(model: Uint8Array, signal: Float32Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(model);
  try {
    const state: Record<string, ort.Tensor> = {};
    for (const meta of session.inputMetadata) {
      if (!(meta.name in STATE_OUTPUTS) || !meta.isTensor) continue;
      const shape = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const size = shape.reduce((a, b) => a * b, 1);
      state[meta.name] =
        meta.type === 'float16'
          ? new ort.Tensor('float16', new Uint16Array(size), shape)
          : new ort.Tensor('float32', new Float32Array(size), shape);
    }
    const out: number[] = [];
    for (let at = 0; at + VAD_WINDOW <= signal.length; at += VAD_WINDOW) {
      const feeds: Record<string, ort.Tensor> = { ...state };
      feeds.input = new ort.Tensor('float32', signal.slice(at, at + VAD_WINDOW), [1, VAD_WINDOW]);
      if (session.inputNames.includes('sr'))
        feeds.sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(VAD_SAMPLE_RATE)), []);
      const result = await session.run(feeds);
      for (const [input, output] of Object.entries(STATE_OUTPUTS))
        if (input in state && result[output]) state[input] = result[output]!;
      out.push(Number((result.output!.data as Float32Array)[0]));
    }
    return out;
  } finally {
    await session.release();
  }
}
