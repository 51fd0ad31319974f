// The measured page on PP-OCRv4: the repository's own eval and bench scripts produce the numbers
// (scripts/measure.ts saves their JSON), and this turns that JSON into the page's tables, so no
// figure on the page is typed by hand.

/** What `pnpm eval:ocr --json` prints (apps/cli/eval/ocr.ts). */
export interface OcrEval {
  readonly flags: readonly string[];
  readonly det: {
    readonly eval_pages: number;
    readonly mask_iou_pooled: number;
    readonly mask_iou_per_page: readonly number[];
    readonly bytes_float: number;
    readonly bytes_int8: number;
  };
  readonly rec: {
    readonly eval_lines: number;
    readonly cer_float: number;
    readonly cer_int8: number;
    readonly cer_increase_points: number;
    readonly bytes_float: number;
    readonly bytes_int8: number;
  };
}

/** The rows `node apps/cli/bench/quantize.mjs --json` prints. */
export type BenchRow =
  | {
      readonly bench: 'quantize_wall_time';
      readonly model: string;
      readonly data: string;
      readonly qgrain_ms: number;
      readonly plain_float_ms: number;
      readonly ratio: number;
      readonly floor_ms: number;
      readonly floor_ratio: number;
      readonly fetched_activations: number;
    }
  | {
      readonly bench: 'det_latency';
      readonly model: string;
      readonly data: string;
      readonly float_ms: number;
      readonly prepared_float_ms: number;
      readonly int8_ms: number;
      readonly ratio: number;
      readonly ratio_to_file: number;
    };

/** The committed measurement (pages/measured/ppocr-v4.json). */
export interface Measurement {
  readonly date: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string };
  readonly commands: readonly string[];
  readonly eval: OcrEval;
  readonly bench: readonly BenchRow[];
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const pct = (v: number, digits = 2) => `${(v * 100).toFixed(digits)}%`;
const ms = (v: number) => `${Math.round(v).toLocaleString('en-US')} ms`;

/** The tables of the measured page, as markdown. */
export function measuredMarkdown(m: Measurement): string {
  const { det, rec } = m.eval;
  const latency = m.bench.find((r) => r.bench === 'det_latency');
  const walls = m.bench.filter((r) => r.bench === 'quantize_wall_time');
  const lines = [
    '<!-- Written by `pnpm --filter @qgrain/docs measure` from ppocr-v4.json; do not edit. -->',
    '',
    `Measured on ${m.date} with Node ${m.machine.node} on ${m.machine.cpu} (${m.machine.cores} cores), by:`,
    '',
    ...m.commands.map((c) => `- \`${c}\``),
    '',
    '### Size and accuracy',
    '',
    `\`qgrain quantize\` with ${m.eval.flags.length ? `\`${m.eval.flags.join(' ')}\`` : 'its default settings'}, calibrated on the OCR calibration set and measured on the held-out evaluation set, which calibration never sees.`,
    '',
    '| model | float | int8 (QDQ) | size | accuracy against float |',
    '| --- | --- | --- | --- | --- |',
    `| PP-OCRv4 det | ${mib(det.bytes_float)} | ${mib(det.bytes_int8)} | ${pct(det.bytes_int8 / det.bytes_float, 1)} | text-mask IoU ${det.mask_iou_pooled.toFixed(4)} over ${det.eval_pages} pages (probability > 0.3) |`,
    `| PP-OCRv4 rec | ${mib(rec.bytes_float)} | ${mib(rec.bytes_int8)} | ${pct(rec.bytes_int8 / rec.bytes_float, 1)} | CER ${pct(rec.cer_float)} float, ${pct(rec.cer_int8)} int8 (${rec.cer_increase_points >= 0 ? '+' : ''}${rec.cer_increase_points.toFixed(2)} points) over ${rec.eval_lines} lines |`,
    '',
  ];
  if (latency && latency.bench === 'det_latency') {
    lines.push(
      '### Latency in onnxruntime-node',
      '',
      `On ${latency.data}, median of interleaved runs in one process, so that machine load slows all three alike.`,
      '',
      '| PP-OCRv4 det | median run | against the prepared float model |',
      '| --- | --- | --- |',
      `| float, as shipped | ${ms(latency.float_ms)} | ${(latency.float_ms / latency.prepared_float_ms).toFixed(2)}x |`,
      `| float, after \`qgrain prepare\` | ${ms(latency.prepared_float_ms)} | 1.00x |`,
      `| int8 QDQ from \`qgrain quantize\` | ${ms(latency.int8_ms)} | ${latency.ratio.toFixed(2)}x |`,
      '',
    );
  }
  if (walls.length > 0) {
    lines.push(
      '### Time to quantize',
      '',
      'The whole `qgrain quantize` run (process start to written file) against running the float model once over the same calibration inputs in onnxruntime-node, and the floor no run can go below (start the CLI, decode the inputs, run the prepared model with every calibrated activation fetched).',
      '',
      '| model | data | qgrain quantize | plain float runs | ratio | floor | floor ratio |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...walls.map((r) =>
        r.bench === 'quantize_wall_time'
          ? `| ${r.model} | ${r.data} | ${ms(r.qgrain_ms)} | ${ms(r.plain_float_ms)} | ${r.ratio.toFixed(2)}x | ${ms(r.floor_ms)} | ${r.floor_ratio.toFixed(2)}x |`
          : '',
      ),
      '',
    );
  }
  return `${lines.join('\n')}`;
}
