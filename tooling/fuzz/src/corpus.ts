import { readFileSync } from 'node:fs';
import { realModel } from '@qgrain/test-harness';
import { type Seed, makeSeed } from './mutate.js';

/**
 * The real models mutated by default: the small ones, so that a CI run of thousands of inputs
 * fits in a minute or two. `--models` adds the large PP-OCRv4 detector and recogniser.
 */
export const DEFAULT_MODELS = [
  'openwakeword-hello-deepa',
  'ppocr-cls',
  'silero-vad-16k-op15',
  'silero-vad-half',
  'silero-vad',
];

export function loadSeeds(ids: readonly string[]): Seed[] {
  return ids.map((id) => makeSeed(id, new Uint8Array(readFileSync(realModel(id).path))));
}
