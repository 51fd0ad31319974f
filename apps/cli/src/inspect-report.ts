import type { PrepareSummary } from '@qgrain/onnx';
import { formatBytes } from './byte-size.js';
import { formatTable } from './io.js';
import type { ModelOverview } from './model-overview.js';
import { preparedCounts } from './prepared-counts.js';
import { type WeightSurvey, formatDb, jsonNumber } from '@qgrain/pipeline';

/** Everything `qgrain inspect` found, before it is rendered. */
export interface InspectResult {
  /** The model path as the user gave it (shown in the table). */
  readonly model: string;
  /** The same path resolved (written in JSON, so the document does not depend on a cwd). */
  readonly path: string;
  readonly backend: string;
  readonly overview: ModelOverview;
  readonly prepare: PrepareSummary;
  readonly survey: WeightSurvey;
}

function mapSchemes<T>(schemes: readonly string[], pick: (scheme: string) => T): Record<string, T> {
  return Object.fromEntries(schemes.map((scheme) => [scheme, pick(scheme)]));
}

/** The `--json` document (snake_case keys, SQNR in dB keyed by scheme text, infinities as "inf"). */
export function inspectJson(result: InspectResult): Record<string, unknown> {
  const { overview, survey, prepare } = result;
  const { schemes, totals } = survey;
  return {
    model: result.path,
    ir_version: overview.irVersion,
    producer: overview.producer,
    opsets: overview.opsets,
    nodes: overview.nodes,
    ops: Object.fromEntries(overview.ops),
    parameters: Object.fromEntries(
      overview.parameters.map((p) => [
        p.dtype,
        { tensors: p.tensors, elements: p.elements, bytes: p.bytes ?? null },
      ]),
    ),
    external_data: overview.externalData,
    prepare: {
      constants_lifted: prepare.constantsLifted,
      identities_removed: prepare.identitiesRemoved,
      batch_norms_folded: prepare.batchNormsFolded,
      affines_folded: prepare.affinesFolded,
      hard_swishes_fused: prepare.hardSwishesFused,
      exporter_notes_stripped: prepare.exporterNotesStripped,
    },
    backend: result.backend,
    schemes,
    sqnr_floor_db: survey.floorDb,
    weights: survey.weights.map((w) => ({
      name: w.name,
      op: w.op,
      node: w.node,
      shape: w.shape,
      depthwise: w.depthwise,
      elements: w.elements,
      float_bytes: w.floatBytes,
      sqnr_db: mapSchemes(schemes, (s) => jsonNumber(w.outcomes[s]!.sqnrDb)),
      bytes: mapSchemes(schemes, (s) => w.outcomes[s]!.bytes),
      verdict: w.verdict,
      non_finite: w.nonFinite,
    })),
    totals: {
      weights: totals.weights,
      depthwise: totals.depthwise,
      elements: totals.elements,
      float_bytes: totals.floatBytes,
      bytes: totals.bytes,
      median_sqnr_db: mapSchemes(schemes, (s) => jsonNumber(totals.medianSqnrDb[s]!)),
      below_floor: totals.belowFloor,
    },
    verdict: survey.verdict,
  };
}

/** Letters of the short column labels, for the granularities `inspect` compares. */
const GRAIN_LETTERS: Readonly<Record<string, string>> = { tensor: 't', channel: 'c', block: 'b' };

/** Short column labels: `int8/per-tensor` -> `t8`, `int4/per-block:32` -> `b4`; other schemes keep their text. */
export function schemeLabel(scheme: string): string {
  const match = /^u?int(\d+)\/per-(tensor|channel|block)\b/.exec(scheme);
  return match ? `${GRAIN_LETTERS[match[2]!]}${match[1]}` : scheme;
}

// Labels of the key/value lines above and below the weight table.
const KEY_WIDTH = 12;
// Wrap the op histogram so it stays readable in an 100-column terminal.
const LINE_WIDTH = 100;

function keyLine(key: string, value: string): string {
  return `${key.padEnd(KEY_WIDTH)}${value}`;
}

function wrapList(key: string, items: readonly string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? item : `${line}, ${item}`;
    if (line !== '' && KEY_WIDTH + next.length > LINE_WIDTH) {
      lines.push(`${line},`);
      line = item;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines.map((l, i) => keyLine(i === 0 ? key : '', l)).join('\n');
}

function kib(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

/** The human-readable report: model facts, the weight table, totals and the verdict. */
export function inspectText(result: InspectResult): string {
  const { overview, survey, prepare } = result;
  const { schemes, totals } = survey;
  const opsets = Object.entries(overview.opsets)
    .map(([domain, version]) => `${domain} ${version}`)
    .join(', ');
  const external = overview.externalData;
  const lines: string[] = [
    keyLine('model', result.model),
    keyLine(
      'format',
      `ir ${overview.irVersion}, opsets ${opsets}${overview.producer ? `, producer ${overview.producer}` : ''}`,
    ),
    wrapList(`nodes`, [`${overview.nodes} total`, ...overview.ops.map(([op, count]) => `${op} ${count}`)]),
    keyLine(
      'parameters',
      overview.parameters
        .map(
          (p) =>
            `${p.dtype} ${p.elements.toLocaleString('en-US')} in ${p.tensors} tensors${p.bytes === undefined ? '' : ` (${formatBytes(p.bytes)})`}`,
        )
        .join('; ') || 'none',
    ),
    keyLine(
      'external',
      external.tensors === 0
        ? 'none'
        : `${external.tensors} tensors, ${formatBytes(external.bytes)} in ${external.files.join(', ')}`,
    ),
    keyLine('prepared', `${preparedCounts(prepare)} (in memory; the file is not changed)`),
    keyLine('backend', result.backend),
    '',
  ];

  if (survey.weights.length > 0) {
    const labels = schemes.map(schemeLabel);
    lines.push(
      `weights: ${schemes.map((s, i) => `${labels[i]} = ${s}`).join(', ')}; SQNR in dB ('inf' = exact), sizes in KiB`,
    );
    const header = [
      'weight',
      'op',
      'shape',
      'dw',
      ...labels.map((l) => `${l} dB`),
      'float KiB',
      ...labels.map((l) => `${l} KiB`),
      'verdict',
    ];
    const rows = survey.weights.map((w) => [
      w.name,
      w.op,
      w.shape.join('x'),
      w.depthwise ? 'yes' : 'no',
      ...schemes.map((s) => formatDb(w.outcomes[s]!.sqnrDb)),
      kib(w.floatBytes),
      ...schemes.map((s) => kib(w.outcomes[s]!.bytes)),
      w.verdict,
    ]);
    lines.push(formatTable(header, rows), '');
  }

  lines.push(
    keyLine(
      'totals',
      `${totals.weights} weights (${totals.depthwise} depthwise), ${totals.elements.toLocaleString('en-US')} parameters; ` +
        `float ${formatBytes(totals.floatBytes)}, ${schemes.map((s) => `${s} ${formatBytes(totals.bytes[s]!)}`).join(', ')}`,
    ),
    keyLine('median', schemes.map((s) => `${s} ${formatDb(totals.medianSqnrDb[s]!)} dB`).join(', ')),
    keyLine(
      `< ${survey.floorDb} dB`,
      Object.entries(totals.belowFloor)
        .map(([s, count]) => `${s} ${count} of ${totals.weights}`)
        .join(', '),
    ),
    keyLine('verdict', survey.verdict),
  );
  return `${lines.join('\n')}\n`;
}
