import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// One project per workspace folder. Tests import packages by name and run against their
// TypeScript sources, so a test run never depends on a stale build.
const root = import.meta.dirname;
const folders = ['packages', 'apps', 'tooling'].flatMap((group) =>
  existsSync(join(root, group))
    ? readdirSync(join(root, group), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(root, group, entry.name, 'package.json')))
        .map((entry) => join(group, entry.name))
    : [],
);

const alias: Record<string, string> = {};
for (const folder of folders) {
  const pkg = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as {
    name: string;
    exports?: Record<string, unknown>;
  };
  // A package whose exports already name TypeScript sources (the test harness) resolves through
  // them, subpaths included; a test reaches it only where its package declares the dependency.
  const main = pkg.exports?.['.'];
  if (typeof main === 'string' && main.endsWith('.ts')) continue;
  const source = resolve(root, folder, 'src/index.ts');
  if (existsSync(source)) alias[pkg.name] = source;
  const testEntry = resolve(root, folder, 'src/test/index.ts');
  if (existsSync(testEntry)) alias[`${pkg.name}/test`] = testEntry;
}
const aliasList = Object.entries(alias)
  // Longest names first so '@qgrain/tensor/test' wins over '@qgrain/tensor'.
  .sort((a, b) => b[0].length - a[0].length)
  .map(([find, replacement]) => ({ find: new RegExp(`^${find.replace('/', '\\/')}$`), replacement }));

export default defineConfig({
  test: {
    projects: folders
      .filter((folder) => existsSync(join(root, folder, 'src')))
      .map((folder) => ({
        resolve: { alias: aliasList },
        test: {
          name: folder.split('/')[1],
          root: join(root, folder),
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      })),
  },
});
