import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// The single-file CLI: every workspace package, commander, protobufjs and the WASM kernels (base64
// in @qgrain/wasm) in one file that plain node runs anywhere. onnxruntime stays outside: it is
// native code, loaded by name only when a command runs a model.
export default defineConfig({
  entry: { qgrain: 'src/cli.ts' },
  outDir: 'dist/single',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  noExternal: [/.*/],
  external: ['onnxruntime-node', 'onnxruntime-web'],
  splitting: false,
  dts: false,
  sourcemap: false,
  clean: false,
  minify: true,
  outExtension: () => ({ js: '.mjs' }),
  define: { QGRAIN_BUNDLED_VERSION: JSON.stringify(version) },
  // CommonJS dependencies (protobufjs) call require(): give the ES module one.
  banner: {
    js: "import { createRequire as qgrainRequire } from 'node:module'; const require = qgrainRequire(import.meta.url);",
  },
});
