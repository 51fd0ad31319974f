// Files the Granularity Explorer fetches from the site, shared by the build script, the page and
// the tests.

/** The bundled model (PP-OCR's text direction classifier), under the site's `models/` folder. */
export const BUNDLED_MODEL_FILE = 'ppocr-cls.onnx';
