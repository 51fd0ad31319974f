import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectReflection } from 'typedoc';
import { API_PACKAGES, exportedSymbols, undocumentedExports, writeApiReference } from './api-reference.js';

describe('the API reference', () => {
  let out: string;
  let project: ProjectReflection;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'qgrain-api-'));
    project = await writeApiReference(out);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('has a doc comment on every exported symbol of every package', () => {
    expect(undocumentedExports(project), 'write a /** doc comment */ on these exports').toEqual([]);
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
