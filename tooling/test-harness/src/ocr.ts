import { readFileSync } from 'node:fs';

/**
 * The PaddleOCR rec dictionary as its CTC output indexes it: index 0 is the blank, then one entry
 * per line of ppocr_keys_v1.txt, and a space as the last class.
 */
export function loadPaddleDictionary(keysPath: string): string[] {
  const keys = readFileSync(keysPath, 'utf8').split(/\r?\n/);
  if (keys.at(-1) === '') keys.pop();
  return ['', ...keys, ' '];
}

/** Greedy CTC decoding of one sequence of class scores [T, C]: best class per step, repeats merged, blanks dropped. */
export function ctcGreedyDecode(
  scores: Float32Array,
  steps: number,
  classes: number,
  dictionary: readonly string[],
): string {
  if (dictionary.length !== classes) {
    throw new Error(`dictionary has ${dictionary.length} entries but the model scores ${classes} classes`);
  }
  let text = '';
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    const row = t * classes;
    for (let c = 0; c < classes; c++) {
      const s = scores[row + c]!;
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) text += dictionary[best]!;
    previous = best;
  }
  return text;
}

/** Levenshtein distance over Unicode code points. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/** Character error rate of predictions against true texts: total edits over total true characters. */
export function characterErrorRate(predictions: readonly string[], truths: readonly string[]): number {
  let edits = 0;
  let chars = 0;
  predictions.forEach((p, i) => {
    edits += editDistance(p, truths[i]!);
    chars += [...truths[i]!].length;
  });
  return edits / chars;
}

/** Intersection over union of two masks `a > threshold` and `b > threshold` (1 when both are empty). */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>, threshold: number): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const pa = a[i]! > threshold;
    const pb = b[i]! > threshold;
    if (pa && pb) inter++;
    if (pa || pb) union++;
  }
  return union === 0 ? 1 : inter / union;
}
