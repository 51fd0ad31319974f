export { assertAllClose, assertBitEqual, float32Bits } from './assertions.js';
export { type RealModel, realModel, realModels } from './models.js';
export {
  type Distribution,
  SPECIAL_FLOAT32,
  SeededRandom,
  randomFloat32,
  randomWithSpecials,
} from './random.js';
export { type ReadmeExample, readmeExamples, runExample } from './readme-examples.js';
export { characterErrorRate, ctcGreedyDecode, editDistance, loadPaddleDictionary, maskIoU } from './ocr.js';
export { type OcrDataSet, ocrDataPath } from './ocr-data.js';
export { type InputOverride, realModelInputs, runSession, seededFeeds } from './ort-feeds.js';
export { describeReadmeExamples } from './readme-suite.js';
export {
  CHROMIUM,
  CHROMIUM_ARGS,
  SKIP_BROWSER,
  bundleForBrowser,
  launchChromium,
  runInChromium,
} from './chromium.js';
export { VAD_SAMPLE_RATE, VAD_WINDOW, vadProbabilities, vadSignals } from './vad.js';
export {
  MODEL_TABLE,
  type ModeExpectation,
  TABLE_MODE_FLAGS,
  type TableMode,
  type TableRow,
  modelTableMarkdown,
} from './model-table.js';
export { toFloat16Model } from './float16-model.js';
