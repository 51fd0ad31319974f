import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Model } from '@qgrain/onnx';
import { UsageError } from './exit.js';

/** The canonical path of a file that may not exist yet (its folder resolved through symlinks). */
async function canonicalPath(path: string): Promise<string> {
  const full = resolve(path);
  try {
    return await realpath(full);
  } catch {
    try {
      return join(await realpath(dirname(full)), basename(full));
    } catch {
      return full;
    }
  }
}

/** The input's own files: the model and every external data file it reads. */
async function inputFiles(model: Model): Promise<Set<string>> {
  const files = new Set<string>([await canonicalPath(model.source)]);
  for (const graph of model.graphs()) {
    for (const init of graph.initializers()) {
      const location = init.externalData?.location;
      if (location) files.add(await canonicalPath(join(dirname(model.source), location)));
    }
  }
  return files;
}

/**
 * Refuses (as a usage error, exit 2) an output that would replace one of the input's files. The
 * write itself is atomic, so nothing would be corrupted, but the original float model would be
 * gone; symlinks and `./` spellings of the same file are caught by resolving real paths.
 */
export async function refuseOverwritingInput(model: Model, outputs: readonly string[]): Promise<void> {
  const protectedFiles = await inputFiles(model);
  const inputModel = await canonicalPath(model.source);
  for (const output of outputs) {
    const target = await canonicalPath(output);
    if (!protectedFiles.has(target)) continue;
    const what = target === inputModel ? 'the input model' : 'an external data file of the input model';
    throw new UsageError(
      `refusing to write ${resolve(output)}: it is ${what}; choose another output path with -o`,
    );
  }
}
