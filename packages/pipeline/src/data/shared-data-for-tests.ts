// Where the tests find the shared OCR data: `<repo>/../shared/data`, next to the repository.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Absolute path of `relative` inside the shared data folder; throws saying where it looked. */
export function sharedDataPath(relative: string): string {
  const root = resolve(repo, '../shared/data');
  const path = join(root, relative);
  if (!existsSync(path)) {
    throw new Error(
      `shared test data missing: ${path} (expected the shared data folder at ${root}, next to the repository root ${repo})`,
    );
  }
  return path;
}
