// What a mode says about the weights it left float: a model that comes out the size it went in
// should say why, in terms of the model (inside a subgraph, an op this mode does not take, a
// weight that is computed rather than stored).
import type { Model } from '@qgrain/onnx';
import type { SkippedWeight } from '../plan/plan.js';
import { RECURRENT_GATES, WEIGHT_OPS } from '../plan/weight-roles.js';

/** Names listed in a note before the rest are only counted. */
const LISTED = 3;

function opsOf(items: readonly { op: string }[]): string {
  return [...new Set(items.map((i) => i.op))].join('/');
}

function example(items: readonly SkippedWeight[]): string {
  const first = items[0]!;
  return first.graph === 'main' ? `'${first.node}'` : `'${first.node}' in ${first.graph}`;
}

/**
 * Notes on weights a mode left float. `covered` are the ops the mode quantizes; `quantized` is how
 * many weights it did quantize. Nodes inside bodies that a static run skipped get one note; when
 * nothing was quantized at all, one more note says why, naming every cause that applies.
 */
export function skippedWeightNotes(
  model: Model,
  mode: string,
  covered: readonly string[],
  skipped: readonly SkippedWeight[],
  quantized: number,
): string[] {
  const notes: string[] = [];
  const inBodies = skipped.filter((s) => s.reason === 'subgraph');
  if (inBodies.length > 0) {
    notes.push(
      `${inBodies.length} ${opsOf(inBodies)} node(s) inside Loop/Scan bodies (e.g. ${example(inBodies)}) stay float: ${mode} quantization calibrates their activations, and a body run once per iteration has no value onnxruntime can give whole (If branches are routed out; weight-only quantization covers these)`,
    );
  }
  if (quantized > 0) return notes;
  const causes: string[] = [];
  if (inBodies.length > 0) causes.push(`${inBodies.length} inside Loop/Scan bodies`);
  const computed = skipped.filter((s) => s.reason === 'not-constant' && covered.includes(s.op));
  if (computed.length > 0)
    causes.push(
      `${computed.length} ${opsOf(computed)} node(s) read no constant weight (e.g. ${example(computed)})`,
    );
  const layout = skipped.filter((s) => s.reason === 'layout');
  if (layout.length > 0)
    causes.push(`${layout.length} recurrent weight(s) are rearranged so that no axis keeps whole gate rows`);
  const present = new Set(model.graphs().flatMap((g) => g.nodes.map((n) => n.opType)));
  const others = [...Object.keys(WEIGHT_OPS), ...Object.keys(RECURRENT_GATES)].filter(
    (op) => present.has(op) && !covered.includes(op),
  );
  if (others.length > 0)
    causes.push(
      `${others.slice(0, LISTED).join('/')} weights are not what this mode quantizes (it takes ${covered.join('/')})`,
    );
  if (!covered.some((op) => present.has(op))) causes.push(`the model has no ${covered.join('/')} node`);
  notes.push(
    `no weight quantized: ${causes.length > 0 ? causes.join('; ') : 'no supported op reads a constant float weight'}`,
  );
  return notes;
}
