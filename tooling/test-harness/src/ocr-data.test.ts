import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ocrDataPath } from './ocr-data.js';

describe('ocrDataPath', () => {
  it("finds both sets' folders and files inside the repository", () => {
    expect(basename(ocrDataPath('calibration'))).toBe('ocr-calibration');
    expect(basename(ocrDataPath('eval'))).toBe('ocr-eval');
    expect(statSync(ocrDataPath('calibration', 'calib_rec.npy.gz')).isFile()).toBe(true);
    expect(statSync(ocrDataPath('calibration', 'images/det_0.png')).isFile()).toBe(true);
    expect(statSync(ocrDataPath('eval', 'manifest.json')).isFile()).toBe(true);
  });

  it('names the path it looked for when a file is missing', () => {
    expect(() => ocrDataPath('calibration', 'calib_missing.npy.gz')).toThrow(
      /OCR calibration data not found: .*ocr-calibration.calib_missing\.npy\.gz/,
    );
  });

  it('refuses paths that leave the set, so eval files cannot pass as calibration data', () => {
    expect(existsSync(ocrDataPath('eval', 'eval_rec.npy.gz'))).toBe(true);
    expect(() => ocrDataPath('calibration', '../ocr-eval/eval_rec.npy.gz')).toThrow(
      /outside the OCR calibration data/,
    );
    expect(() => ocrDataPath('eval', '/etc/hostname')).toThrow(/outside the OCR eval data/);
  });

  it('refuses an unknown set', () => {
    expect(() => ocrDataPath('train' as 'eval')).toThrow(/unknown OCR data set 'train'/);
  });
});
