import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The published shape of every public package, checked the way a user meets it: packed with
// `pnpm pack`, installed from the tarballs into an empty project, imported by name. Needs the
// packages built (`pnpm build`), which the root `pnpm test` does first.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, unknown>;
}

const publicPackages = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(repo, group)).flatMap((name) => {
    const dir = join(repo, group, name);
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
      return pkg.private ? [] : [{ dir, pkg }];
    } catch {
      return [];
    }
  }),
);

/** TypeScript files under `dir` (none when it does not exist). */
function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

// Test-only code: the harness's sources and every public package's test/ folder. None of it may
// reach a tarball, whether as a file of its own or bundled into dist.
const harnessSources = typeScriptFiles(join(repo, 'tooling/test-harness/src')).filter(
  (file) => !file.endsWith('.test.ts'),
);
const testFolderSources = publicPackages.flatMap(({ dir }) => typeScriptFiles(join(dir, 'test')));

/** Names a library exports as well, so finding one in a dist says nothing about the harness. */
const SHARED_NAMES = new Set(['NpyArray']);

// Bundling drops paths, so bundled test code is recognised by what it exports: esbuild and the
// declaration bundler keep top-level names.
const testOnlyNames = [
  ...new Set(
    [...harnessSources, ...testFolderSources].flatMap((file) =>
      [
        ...readFileSync(file, 'utf8').matchAll(
          /^export (?:async )?(?:function\*?|const|let|class|interface|type|enum) ([A-Za-z_$][\w$]*)/gm,
        ),
      ].map((m) => m[1]!),
    ),
  ),
].filter((name) => !SHARED_NAMES.has(name));

/** File-name parts that mark test-only files: test folders, *.test.*, and the test seams' names. */
const testOnlyParts = new Set([
  'test',
  'tests',
  'conformance',
  'harness',
  ...testFolderSources.map((file) => basename(file, '.ts')),
]);

/** Why `path` (a tarball entry or a bundled source) looks test-only, or undefined. */
function testOnlyPath(path: string): string | undefined {
  const parts = path.split(/[/\\]/).flatMap((segment) => [segment.split('.')[0]!, ...segment.split(/[._-]/)]);
  const hit = parts.find((part) => testOnlyParts.has(part));
  return hit === undefined ? undefined : `${path} (${hit})`;
}

/** Test-only names found in `text` as whole words (not as `.name`: a method may share one). */
function testOnlyNamesIn(text: string): string[] {
  return testOnlyNames.filter((name) =>
    new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(text),
  );
}

describe('packaging', () => {
  let work: string;
  const tarballs = new Map<string, string>();

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'qgrain-pack-'));
    for (const { dir, pkg } of publicPackages) {
      const out = execFileSync('pnpm', ['pack', '--pack-destination', work], { cwd: dir, encoding: 'utf8' });
      const file = out.trim().split('\n').pop()!.trim();
      tarballs.set(pkg.name, join(work, basename(file)));
    }
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(publicPackages.map((p) => [p.pkg.name, p.dir] as const))(
    '%s passes publint',
    async (_name, dir) => {
      const { messages } = await publint({ pkgDir: dir, level: 'warning', strict: true });
      expect(messages.map((m) => `${m.code} ${JSON.stringify(m.args)}`)).toEqual([]);
    },
  );

  it('the test-only checks recognise test code: the seams by name, the harness by its exports', () => {
    // Without these the checks below could pass by finding nothing to look for.
    expect(testFolderSources.length).toBeGreaterThanOrEqual(6);
    expect(testOnlyNames).toEqual(expect.arrayContaining(['runConformance', 'capturedIO', 'randomFloat32']));
    for (const file of [...harnessSources, ...testFolderSources]) {
      expect(testOnlyPath(relative(repo, file)), file).toBeDefined();
    }
    // Every harness module but the index re-exporting them is recognisable once bundled.
    for (const file of harnessSources.filter((f) => !f.endsWith('index.ts'))) {
      expect(testOnlyNamesIn(readFileSync(file, 'utf8')), file).not.toEqual([]);
    }
    expect(testOnlyPath('dist/chunk-TQSOHJS6.js')).toBeUndefined();
    expect(testOnlyPath('../src/data/npy.ts')).toBeUndefined();
  });

  it.each(publicPackages.map((p) => [p.pkg.name] as const))(
    '%s ships no test code: no test files, no bundled test sources, no harness names in dist',
    (name) => {
      const unpacked = join(work, 'unpacked', name.replace('/', '+'));
      execFileSync('mkdir', ['-p', unpacked]);
      execFileSync('tar', ['-xzf', tarballs.get(name)!, '-C', unpacked]);
      const root = join(unpacked, 'package');
      const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
        .map((file) => file.split(sep).join('/'))
        .filter((file) => !statSync(join(root, file)).isDirectory());
      expect(files.flatMap((file) => testOnlyPath(file) ?? [])).toEqual([]);

      // Source maps list every module bundled into a file: all must be the package's own src/.
      const maps = files.filter((file) => file.endsWith('.map'));
      expect(maps.length).toBeGreaterThan(0);
      const sources = maps.flatMap((map) => {
        const { sources: listed } = JSON.parse(readFileSync(join(root, map), 'utf8')) as {
          sources: string[];
        };
        return listed.map((source) => posix.normalize(posix.join(posix.dirname(map), source)));
      });
      expect(sources.length).toBeGreaterThan(0);
      expect(sources.filter((source) => !source.startsWith('src/') || testOnlyPath(source))).toEqual([]);

      const dist = files.filter((file) => file.startsWith('dist/'));
      const found = dist.flatMap((file) =>
        testOnlyNamesIn(readFileSync(join(root, file), 'utf8')).map((hit) => `${file}: ${hit}`),
      );
      expect(found).toEqual([]);
    },
  );

  it('installs from the tarballs into an empty project, every entry point imports, and the libraries bundle for the browser', async () => {
    const project = join(work, 'consumer');
    execFileSync('mkdir', ['-p', project]);
    const local = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: local,
        overrides: local,
      }),
    );
    writeFileSync(join(project, '.npmrc'), 'onnxruntime-node-install=skip\n');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      stdio: 'pipe',
    });
    const entries = publicPackages.flatMap(({ pkg }) =>
      Object.keys(pkg.exports ?? { '.': true })
        .filter((key) => key !== './package.json')
        .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`)),
    );
    const script = `const names = ${JSON.stringify(entries)};
for (const name of names) {
  const mod = await import(name);
  console.log(name + ' ' + Object.keys(mod).length);
}`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: project,
      encoding: 'utf8',
    });
    const lines = out.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(entries);
    // A package whose entry exports nothing would be a broken build, not a working package.
    for (const line of lines) expect(Number(line.split(' ')[1])).toBeGreaterThan(0);

    // A web app bundles the libraries with its bundler's "browser" condition: none of them may
    // reach Node's built-in modules on that path.
    const libraries = publicPackages.filter(({ dir }) => dir.includes(`${sep}packages${sep}`));
    expect(libraries.length).toBeGreaterThanOrEqual(6);
    const entry = join(project, 'browser-entry.js');
    writeFileSync(
      entry,
      `${libraries.map(({ pkg }, i) => `import * as m${i} from '${pkg.name}';`).join('\n')}\nglobalThis.qgrain = [${libraries.map((_, i) => `m${i}`).join(', ')}];\n`,
    );
    const bundle = await build({
      entryPoints: [entry],
      absWorkingDir: project,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      logLevel: 'silent',
    });
    expect(bundle.errors).toEqual([]);
    expect(bundle.outputFiles[0]!.text.length).toBeGreaterThan(100_000);
  }, 300_000);
});
