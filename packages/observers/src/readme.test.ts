import { readFileSync } from 'node:fs';
import { afterEach, expect, test, vi } from 'vitest';

// The README's example is this file, and its printed output is the README's "Output" block:
// the example runs here, so the documentation cannot drift from the code.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const exampleUrl = new URL('../examples/quick-start.ts', import.meta.url);

function block(language: string): string {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readme);
  if (!match) throw new Error(`README.md has no \`\`\`${language} block`);
  return match[1]!;
}

afterEach(() => {
  vi.restoreAllMocks();
});

test('the README example is examples/quick-start.ts', () => {
  expect(block('ts')).toBe(readFileSync(exampleUrl, 'utf8'));
});

test('the README example prints the output the README shows', async () => {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  await import(/* @vite-ignore */ exampleUrl.href);
  expect(`${lines.join('\n')}\n`).toBe(block('text'));
});
