import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative as relativePath, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's data folder (this file is tooling/test-harness/src/ocr-data.ts). */
const DATA_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data');

const SET_FOLDERS = { calibration: 'ocr-calibration', eval: 'ocr-eval' } as const;

/** The two OCR data sets: `calibration` to calibrate and test on, `eval` only to measure accuracy. */
export type OcrDataSet = keyof typeof SET_FOLDERS;

/**
 * Absolute path of `relative` inside one OCR data set of the repository (`data/ocr-calibration`
 * or `data/ocr-eval`), or of the set's folder when `relative` is omitted. Throws naming the path
 * when it does not exist, and when `relative` leaves the set: reaching eval files through the
 * calibration set would hide that a test calibrates on held-out data.
 */
export function ocrDataPath(set: OcrDataSet, relative = ''): string {
  const folder = SET_FOLDERS[set];
  if (folder === undefined) throw new Error(`unknown OCR data set '${set}'; use 'calibration' or 'eval'`);
  const root = join(DATA_ROOT, folder);
  const path = resolve(root, relative);
  const inside = relativePath(root, path);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new Error(`'${relative}' is outside the OCR ${set} data (${root})`);
  }
  if (!existsSync(path)) {
    throw new Error(
      `OCR ${set} data not found: ${path} (expected in the repository's data/${folder} folder)`,
    );
  }
  return path;
}
