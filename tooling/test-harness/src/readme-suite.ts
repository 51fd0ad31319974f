import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readmeExamples, runExample } from './readme-examples.js';

/**
 * The README test every package has: its js examples, run against the built package as a user
 * would (`pnpm build` first), print exactly the ```text block that follows each one.
 */
export function describeReadmeExamples(packageDir: string): void {
  describe('README examples (run against the built package)', () => {
    const examples = readmeExamples(join(packageDir, 'README.md'));
    it('has a runnable example', () => {
      expect(examples.length).toBeGreaterThan(0);
    });
    it.each(examples)('README example at line $line prints what the README says', ({ code, expected }) => {
      expect(runExample(packageDir, code)).toBe(expected);
    });
  });
}
