import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { QgrainError } from '@qgrain/tensor';

/** Writes text atomically: a temporary file in the same folder, then a rename. */
export async function writeTextAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new QgrainError('io', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
