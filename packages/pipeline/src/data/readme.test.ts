import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeExamples, runExample } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';

// Runs the README's examples against the built package (`pnpm build` first), as a user would.
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('README examples (run against the built package)', () => {
  const examples = readmeExamples(join(packageDir, 'README.md'));
  it('has a runnable example', () => {
    expect(examples.length).toBeGreaterThan(0);
  });
  it.each(examples)('README example at line $line prints what the README says', ({ code, expected }) => {
    expect(runExample(packageDir, code)).toBe(expected);
  });
});
