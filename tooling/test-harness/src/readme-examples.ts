import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A runnable example in a README: a ```js block directly followed by a ```text block of its output. */
export interface ReadmeExample {
  readonly code: string;
  readonly expected: string;
  readonly line: number;
}

const EXAMPLE_PATTERN = /```(?:js|javascript)\n([\s\S]*?)```\s*\n(?:[^\n`]*\n)?```text\n([\s\S]*?)```/g;

/** Finds every js example that is followed by its expected output in a README. */
export function readmeExamples(readmePath: string): ReadmeExample[] {
  const text = readFileSync(readmePath, 'utf8');
  const examples: ReadmeExample[] = [];
  for (const match of text.matchAll(EXAMPLE_PATTERN)) {
    const line = text.slice(0, match.index).split('\n').length;
    examples.push({ code: match[1]!, expected: match[2]!, line });
  }
  return examples;
}

/**
 * Runs an example as an ES module inside `packageDir` (so `import '@qgrain/x'` resolves the
 * package itself through its exports, as a user would) and returns what it printed.
 */
export function runExample(packageDir: string, code: string): string {
  const dir = mkdtempSync(join(packageDir, '.readme-example-'));
  try {
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code);
    return execFileSync(process.execPath, [file], { cwd: packageDir, encoding: 'utf8', timeout: 120_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
