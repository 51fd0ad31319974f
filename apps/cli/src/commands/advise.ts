import { mkdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { prepareModel, readModel } from '@qgrain/onnx';
import {
  type Advice,
  DEFAULT_ACTIVATION_CANDIDATES,
  DEFAULT_METHODS,
  DEFAULT_WEIGHT_CANDIDATES,
  type PlanDocument,
  advise,
  defaultHoldout,
  nodeRunnerFactory,
  openRunnerPool,
  renderHtmlReport,
  sha256Hex,
  splitData,
} from '@qgrain/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BACKEND, type GlobalOptions, resolveBackend } from '../backend-option.js';
import { formatBytes } from '../byte-size.js';
import { type DataOptions, addDataOptions, openModelData, positiveInteger } from '../data-options.js';
import { checkExcludes } from '../exclude-check.js';
import { UsageError } from '../exit.js';
import { type CliIO, formatTable, progress } from '../io.js';
import { refuseOverwritingInput } from '../output-guard.js';
import { hasExternalData } from './quantize.js';
import { writeTextAtomically } from '../write-text.js';

interface AdviseCommandOptions extends DataOptions {
  readonly output: string;
  readonly report?: string;
  readonly targetSqnr?: number;
  readonly maxSize?: string;
  readonly maxLatency?: number;
  readonly weightsCandidates: readonly string[];
  readonly activationsCandidates: readonly string[];
  readonly methods: readonly string[];
  readonly exclude?: readonly string[];
  readonly holdout?: number;
  readonly threads?: number;
  readonly json?: boolean;
}

/** Measuring workers `advise` starts at most without --threads. */
const MAX_MEASURE_WORKERS = 4;

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function decibels(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new InvalidArgumentError('expected a number of dB, e.g. 30');
  return value;
}

function ratio(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0))
    throw new InvalidArgumentError('expected a share of the float model latency, e.g. 0.85');
  return value;
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new InvalidArgumentError('expected a whole number, e.g. 1');
  return value;
}

/** A `--max-size` value: bytes (`1500000`, `1.5MB`, `800KiB`) or a share of the float file (`30%`). */
export function parseMaxSize(text: string, floatBytes: number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%|b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(text);
  if (!match)
    throw new UsageError(
      `--max-size '${text}': expected bytes (1500000, 1.5MB, 800KiB) or a share of the float model (30%)`,
    );
  const value = Number(match[1]);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factors: Record<string, number> = {
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
  };
  const bytes = unit === '%' ? (value / 100) * floatBytes : value * factors[unit]!;
  if (!(bytes > 0)) throw new UsageError(`--max-size '${text}': the cap must be above 0 bytes`);
  return Math.floor(bytes);
}

const dbText = (v: number | null) => (v === null || !Number.isFinite(v) ? 'inf' : v.toFixed(1));

/** The advice as tables (stderr): every weight and activation with its choice and why, then totals. */
export function adviceTable(advice: Advice): string {
  const plan = advice.plan;
  const rows = Object.entries(plan.weights).map(([name, w]) => [
    name,
    w.op,
    w.depthwise ? 'yes' : 'no',
    w.scheme,
    w.reason,
  ]);
  const weightTable = formatTable(['weight', 'op', 'dw', 'scheme', 'why'], rows);
  const activationRows = Object.entries(plan.activations).map(([name, a]) => [
    name,
    a.scheme === 'float' ? 'float' : `${a.scheme} ${a.method ?? ''}`.trim(),
    a.range ? `${a.range.min.toPrecision(3)}..${a.range.max.toPrecision(3)}` : '-',
    a.reason,
  ]);
  const activationTable = formatTable(['activation', 'choice', 'range', 'why'], activationRows);
  const measured = plan.measured!;
  const outputs = Object.entries(measured.output_sqnr_db)
    .map(([name, v]) => `'${name}' ${dbText(v)} dB`)
    .join(', ');
  const lines = [
    weightTable,
    '',
    activationTable,
    '',
    `predicted output SQNR ${dbText(plan.predicted.output_sqnr_db)} dB; measured ${outputs}`,
    `size ${formatBytes(measured.bytes)} (${((measured.bytes / advice.float.bytes) * 100).toFixed(1)}% of float)`,
    `latency ${advice.advised.latencyMs.toFixed(1)} ms, ${(advice.advised.latencyMs / advice.float.latencyMs).toFixed(2)}x the float model's ${advice.float.latencyMs.toFixed(1)} ms (median, same run)`,
    ...advice.rounds.map(
      (r, i) =>
        `round ${i + 1}: aimed at ${dbText(r.targetDb)} dB, predicted ${dbText(r.predictedDb)} dB, measured ${dbText(r.measuredDb)} dB${r.latencyRatio === undefined ? '' : `, latency ${r.latencyRatio.toFixed(2)}x float`}`,
    ),
    `time by stage: ${advice.stages.map((s) => `${s.stage} ${s.seconds.toFixed(1)} s`).join(', ')}`,
    ...Object.entries(advice.references).map(
      ([label, m]) =>
        `reference ${label}: output SQNR ${dbText(m.worstSqnrDb)} dB, ${formatBytes(m.bytes)}, ${m.latencyMs.toFixed(1)} ms; the plan ${m.bytes >= measured.bytes ? 'saves' : 'costs'} ${formatBytes(Math.abs(m.bytes - measured.bytes))}`,
    ),
    ...advice.notes.map((n) => `note: ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Reads and prepares a model, splits the data into calibration and held-back batches, runs the
 * advisor and writes the plan (and the HTML report) atomically. The input is never modified.
 */
export async function adviseCommand(
  path: string,
  options: AdviseCommandOptions,
  globals: Partial<GlobalOptions>,
  io: CliIO,
): Promise<Advice> {
  if ((options.targetSqnr === undefined) === (options.maxSize === undefined))
    throw new UsageError('advise needs a budget: --target-sqnr <dB> or --max-size <bytes|%>, one of the two');
  if (!options.data) throw new UsageError('advise needs data (--data) to calibrate and to measure on');
  const model = await readModel(path);
  const external = hasExternalData(model);
  checkExcludes(model, options.exclude);
  const output = resolve(options.output);
  const reportPath = options.report === undefined ? undefined : resolve(options.report);
  await refuseOverwritingInput(model, [output, ...(reportPath ? [reportPath] : [])]);
  if (reportPath === output)
    throw new UsageError('--report and -o name the same file; give the report its own path');
  const bytes = new Uint8Array(await readFile(model.source));
  const sha256 = await sha256Hex(bytes);
  const maxBytes =
    options.maxSize === undefined
      ? undefined
      : parseMaxSize(options.maxSize, (await stat(model.source)).size);
  const backend = await resolveBackend(globals.backend ?? DEFAULT_BACKEND, io);
  prepareModel(model, { foldBatchNorm: true });

  const source = await openModelData(model, options, io);
  const batches = source.count === undefined ? 0 : Math.ceil(source.count / (options.batchSize ?? 1));
  const held = Math.min(options.holdout ?? defaultHoldout(batches), Math.max(batches - 1, 0));
  if (held === 0)
    throw new UsageError(
      `advise measures on held-back data, but ${batches} batch${batches === 1 ? '' : 'es'} leave none to hold back; give at least two batches, or --holdout`,
    );
  const parts = splitData(source, batches, held);
  const bar = progress(io, 'advising');
  // The switchboard runs go two or more at once, on single-threaded sessions in worker threads:
  // one per core unless --threads says otherwise, at most MAX_MEASURE_WORKERS by default (each
  // worker holds a session of the model, and its memory, of its own).
  const pool = openRunnerPool(options.threads ?? Math.min(availableParallelism(), MAX_MEASURE_WORKERS));
  let advice: Advice;
  try {
    advice = await advise(model, {
      calibration: parts.calibration,
      holdout: parts.holdout,
      runner: nodeRunnerFactory(),
      // The file itself is the latency baseline, unless its weights live in external data
      // (bytes alone would not load).
      ...(external ? {} : { floatModel: bytes }),
      measureRunner: pool.factory,
      parallelRuns: pool.runsAtOnce,
      latencyRunner: nodeRunnerFactory({ threads: 1 }),
      ...(options.maxLatency !== undefined ? { maxLatencyRatio: options.maxLatency } : {}),
      budget: maxBytes !== undefined ? { maxBytes } : { targetSqnrDb: options.targetSqnr! },
      model: { sha256, name: basename(model.source) },
      weightCandidates: options.weightsCandidates,
      activationCandidates: options.activationsCandidates,
      methods: options.methods,
      ...(options.exclude ? { exclude: options.exclude } : {}),
      backend,
      data: { description: source.description, calibrationBatches: batches - held, holdoutBatches: held },
      onProgress: (e) => bar.update(e.done, e.total),
    });
  } finally {
    bar.done();
    await pool.close();
  }
  await mkdir(dirname(output), { recursive: true });
  await writeTextAtomically(output, `${JSON.stringify(advice.plan, null, 2)}\n`);
  if (reportPath) {
    await mkdir(dirname(reportPath), { recursive: true });
    await writeTextAtomically(reportPath, renderHtmlReport(advice.report));
  }
  return advice;
}

/** Adds `qgrain advise <model> --data ... -o plan.json (--target-sqnr dB | --max-size bytes)`. */
export function addAdviseCommand(program: Command, io: CliIO): void {
  const command = program
    .command('advise')
    .description(
      'choose, per tensor, the cheapest weight scheme, activation precision and calibrator that keep the model within a budget, measured on held-back data',
    )
    .argument('<model>', 'the float .onnx model (never modified)')
    .requiredOption(
      '-o, --output <plan.json>',
      'where to write the plan (apply it with qgrain quantize --plan)',
    )
    .option(
      '--target-sqnr <dB>',
      'budget: the model output SQNR against float to keep, on held-back data',
      decibels,
    )
    .option(
      '--max-size <bytes|%>',
      'budget: the largest model file, in bytes (1.5MB, 800KiB) or as a share of the float file (30%)',
    )
    .option(
      '--max-latency <ratio>',
      'with --target-sqnr: the latency the model may have, as a share of the float model (e.g. 0.85), measured in onnxruntime',
      ratio,
    )
    .option(
      '--weights-candidates <list>',
      `weight schemes to choose from (default ${DEFAULT_WEIGHT_CANDIDATES.join(',')})`,
      list,
      [...DEFAULT_WEIGHT_CANDIDATES],
    )
    .option(
      '--activations-candidates <list>',
      `activation precisions to choose from (default ${DEFAULT_ACTIVATION_CANDIDATES.join(',')})`,
      list,
      [...DEFAULT_ACTIVATION_CANDIDATES],
    )
    .option('--methods <list>', `calibrators to choose from (default ${DEFAULT_METHODS.join(',')})`, list, [
      ...DEFAULT_METHODS,
    ])
    .option('--exclude <node|op,...>', 'node names or op types to keep float', list)
    .option(
      '--holdout <batches>',
      'batches held back from calibration to measure on (default: one in eight)',
      wholeNumber,
    )
    .option('--report <report.html>', 'write the self-contained HTML report')
    .option(
      '--threads <n>',
      `sessions measuring at once, each on a worker thread (default: one per core, at most ${MAX_MEASURE_WORKERS}; 1: no worker thread)`,
      positiveInteger,
    )
    .option('--json', 'print the plan as JSON on stdout instead of the tables on stderr');
  addDataOptions(command, true).action(async (path: string, options: AdviseCommandOptions, cmd: Command) => {
    const advice = await adviseCommand(path, options, cmd.optsWithGlobals<Partial<GlobalOptions>>(), io);
    if (options.json) {
      io.out(`${JSON.stringify(advice.plan satisfies PlanDocument, null, 2)}\n`);
      for (const n of advice.notes) io.err(`qgrain: note: ${n}\n`);
    } else io.err(adviceTable(advice));
  });
}
