import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
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
