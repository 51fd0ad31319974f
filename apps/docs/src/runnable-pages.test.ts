// Every page's runnable examples: a ```js block directly followed by a ```text block is run as an
// ES module in apps/docs (so `@qgrain/*` resolves to the built packages, as a user's install
// would) and must print exactly the text block. Same convention and runner as the READMEs.
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { readmeExamples, runExample } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';

const docs = resolve(import.meta.dirname, '..');
const pages = join(docs, 'pages');
// Generated at build time from the code; they hold no examples of their own.
const GENERATED = new Set(['api', 'reference']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) {
      return GENERATED.has(entry.name) || entry.name === 'public' ? [] : markdownFiles(join(dir, entry.name));
    }
    return entry.name.endsWith('.md') ? [join(dir, entry.name)] : [];
  });
}

const examples = markdownFiles(pages).flatMap((file) =>
  readmeExamples(file).map((example) => ({ ...example, page: relative(pages, file) })),
);

describe('runnable examples in the docs (run against the built packages)', () => {
  it('finds examples on the guide and tutorial pages', () => {
    const pagesWithExamples = new Set(examples.map((e) => e.page));
    for (const page of ['guide/scale-and-zero-point.md', 'guide/calibration.md', 'tutorials/node-api.md']) {
      expect(pagesWithExamples).toContain(page);
    }
  });

  it.each(examples)('$page line $line prints what the page says', ({ code, expected }) => {
    expect(runExample(docs, code)).toBe(expected);
  });
});
