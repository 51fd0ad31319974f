import { defineConfig } from 'tsup';

// The package as published: the CLI and its API, importing the workspace packages by name. The
// single-file CLI is tsup.single.config.ts.
export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
