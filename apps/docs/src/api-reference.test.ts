import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectReflection } from 'typedoc';
import { API_PACKAGES, exportedSymbols, undocumentedExports, writeApiReference } from './api-reference.js';

/**
 * Constants that share the doc comment of the constant declared just before them. Each should get
 * a comment of its own; the list may only shrink (a test below fails when an entry is documented).
 */
const SHARED_COMMENT = [
  '@qgrain/pipeline: DEFAULT_ACTIVATION_SCHEME',
  '@qgrain/pipeline: MAX_WEIGHT_BLOCK',
  '@qgrain/pipeline: MS_DOMAIN_VERSION',
];

describe('the API reference', () => {
  let out: string;
  let project: ProjectReflection;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'qgrain-api-'));
    project = await writeApiReference(out);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('has a doc comment on every exported symbol of every package', () => {
    const missing = undocumentedExports(project).filter((name) => !SHARED_COMMENT.includes(name));
    expect(missing, 'write a /** doc comment */ on these exports').toEqual([]);
  });

  it('keeps the list of exports without a comment of their own current', () => {
    const missing = new Set(undocumentedExports(project));
    expect(
      SHARED_COMMENT.filter((name) => !missing.has(name)),
      'remove these from SHARED_COMMENT',
    ).toEqual([]);
  });

  it('writes one page per package listing every exported symbol', () => {
    expect(readdirSync(out).sort()).toEqual(['index.md', ...API_PACKAGES.map((p) => `${p}.md`)].sort());
    const symbols = exportedSymbols(project);
    expect(symbols.length).toBeGreaterThan(300);
    const headings = new Map(
      API_PACKAGES.map((p) => [
        `@qgrain/${p}`,
        new Set(
          [...readFileSync(join(out, `${p}.md`), 'utf8').matchAll(/^### (.+?)(?:\(\))?$/gm)].map((m) =>
            m[1]!.replaceAll('\\_', '_'),
          ),
        ),
      ]),
    );
    for (const entry of symbols) {
      const [module, name] = entry.split(': ') as [string, string];
      expect(headings.get(module)?.has(name), entry).toBe(true);
    }
  });
});
