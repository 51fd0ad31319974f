import type { Model } from '@qgrain/onnx';
import { distance } from 'fastest-levenshtein';
import { UsageError } from './exit.js';

// Near matches are names within this many edits (or a third of the name's length, when longer):
// enough for a typo or a missing suffix, few enough that the list stays short.
const MIN_NEAR_EDITS = 2;
// Suggestions listed per unmatched name.
const MAX_SUGGESTIONS = 5;

/** The known names closest to `name`: case-insensitive containment first, then by edit distance. */
export function nearMatches(name: string, known: Iterable<string>): string[] {
  const lower = name.toLowerCase();
  const limit = Math.max(MIN_NEAR_EDITS, Math.floor(name.length / 3));
  const scored: [string, number][] = [];
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    // Long names are compared only when their lengths make a near match possible.
    if (c.includes(lower) || lower.includes(c)) scored.push([candidate, 0]);
    else if (Math.abs(c.length - lower.length) <= limit) {
      const d = distance(lower, c);
      if (d <= limit) scored.push([candidate, d]);
    }
  }
  return scored
    .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))
    .slice(0, MAX_SUGGESTIONS)
    .map(([n]) => n);
}

/**
 * Refuses `--exclude` names that match no node name and no op type of the model (in any graph):
 * a misspelt name would otherwise quantize the very layer the user meant to keep float.
 */
export function checkExcludes(model: Model, names: readonly string[] | undefined): void {
  if (!names || names.length === 0) return;
  const known = new Set<string>();
  for (const graph of model.graphs()) {
    for (const node of graph.nodes) {
      if (node.name) known.add(node.name);
      known.add(node.opType);
    }
  }
  const missing = names.filter((n) => !known.has(n));
  if (missing.length === 0) return;
  const lines = missing.map((name) => {
    const near = nearMatches(name, known);
    return near.length > 0
      ? `'${name}' (near: ${near.map((n) => `'${n}'`).join(', ')})`
      : `'${name}' (nothing close)`;
  });
  throw new UsageError(
    `--exclude names no node and no op type of ${model.source}: ${lines.join('; ')}; qgrain inspect lists the layers`,
  );
}
