export {
  type BindOptions,
  type DataSource,
  type ModelInputSpec,
  type Sample,
  type SourceInput,
  UNNAMED_INPUT,
  batchSource,
  bindDataSource,
  checkSourceInput,
  concatSamples,
  readSamplesFrom,
  zipSources,
} from './data-source.js';
export { type DataLocation, type DataReaderKind, readerKindForPath } from './data-location.js';
export { defaultHoldout, splitData } from './holdout.js';
export { gunzipBytes, gunzipChunks, isGzip } from './gzip.js';
export { type RgbImage, decodeImage, isImageBytes } from './image-decode.js';
export {
  IMAGE_EXTENSIONS,
  type ImageEntry,
  type ImageSourceOptions,
  imageSource,
  isImageFileName,
  matchesNameFilter,
} from './image-folder.js';
export { type JsonSourceOptions, jsonSource } from './json-source.js';
export {
  type EncodeNpyOptions,
  type NpyArray,
  type NpyHeader,
  type NpySourceOptions,
  decodeNpy,
  encodeNpy,
  npyBytesSource,
  npySamplesFromChunks,
  npyStreamSource,
  parseNpyHeader,
  readNpyHeader,
  tensorFromBytes,
} from './npy.js';
export { type NpzSourceOptions, decodeNpz, encodeNpz, npzBytesSource } from './npz.js';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessSpec,
  formatPreprocessSpec,
  parsePreprocessSpec,
  preprocessImage,
  preprocessOutputShape,
  resizeBilinear,
  validatePreprocessSpec,
} from './preprocess.js';
export { type RandomSourceOptions, randomSource } from './random-source.js';
