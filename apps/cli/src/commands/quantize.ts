import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve, basename } from 'node:path';
import {
  DEFAULT_EXTERNAL_THRESHOLD,
  ExternalDataSpill,
  Model,
  inlineModelSize,
  prepareModel,
  readModel,
} from '@qgrain/onnx';
import {
  DEFAULT_ACTIVATION_SCHEME,
  DEFAULT_CALIBRATION_METHOD,
  DEFAULT_WEIGHT_SCHEMES,
  type QuantizationReportDocument,
  type QuantizeMode,
  type QuantizeResult,
  type WeightOnlyFormat,
  type WeightWrittenHook,
  buildReportDocument,
  compareModels,
  defaultHoldout,
  nodeRunnerFactory,
  type PlanDocument,
  applyPlan,
  quantize,
  sha256Hex,
  validatePlan,
  quantizeHtmlReport,
  rangesFromCache,
  readCalibrationCache,
  renderHtmlReport,
  sizeBreakdown,
  splitData,
  weightStorageSummary,
} from '@qgrain/pipeline';
import { QgrainError } from '@qgrain/tensor';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BACKEND, type GlobalOptions, resolveBackend } from '../backend-option.js';
import { formatBytes } from '../byte-size.js';
import { type DataOptions, addDataOptions, openModelData, positiveInteger } from '../data-options.js';
import { checkExcludes } from '../exclude-check.js';
import { UsageError } from '../exit.js';
import { type CliIO, formatTable, progress } from '../io.js';
import { writeOutputModel } from '../output-model.js';
import { refuseOverwritingInput } from '../output-guard.js';
import { writeTextAtomically } from '../write-text.js';
import { addExternalDataOptions } from './prepare.js';

interface QuantizeCommandOptions extends DataOptions {
  readonly output: string;
  readonly calibration?: string;
  readonly method: string;
  /** Undefined when not given: the default depends on the mode (DEFAULT_WEIGHT_SCHEMES). */
  readonly weights?: string;
  readonly activations: string;
  readonly exclude?: readonly string[];
  readonly report?: string;
  /** Where to write the report as one self-contained HTML page. */
  readonly reportHtml?: string;
  /** A plan from qgrain advise: every tensor's scheme, range and calibrator, applied exactly. */
  readonly plan?: string;
  readonly holdout?: number;
  readonly json?: boolean;
  /** Quantize weights only (no activation, no calibration data needed). */
  readonly weightsOnly?: boolean;
  /** Form of block-quantized weights: blocked DequantizeLinear or MatMulNBits. */
  readonly format: WeightOnlyFormat;
  /** Clipping range of each weight block: round-to-nearest or the MSE grid search. */
  readonly clip: 'rtn' | 'mse';
  /** Activation scheme computed at run time (int8/per-token or uint8/per-tensor). */
  readonly dynamic?: string;
  /** Write initializers of `externalDataThreshold` bytes or more to one data file beside the output (`<output>.<hash>.data`). */
  readonly externalData?: boolean;
  readonly externalDataThreshold?: number;
  /**
   * Largest output written as one file before external data is used unasked (default: protobuf's
   * 2 GiB limit). No flag sets it: tests lower it to exercise the switch on small models.
   */
  readonly externalDataLimit?: number;
  /** Threads to quantize weights on (default DEFAULT_THREADS). */
  readonly threads?: number;
  /**
   * Weight elements below which no worker thread is started (default: the library's
   * MIN_PARALLEL_ELEMENTS). No flag sets it: tests lower it to run small models on workers.
   */
  readonly minParallelElements?: number;
}

/** Bytes of a model as it sits on disk: the .onnx file and every external data file it reads. */
async function modelFileBytes(model: Model): Promise<number> {
  const files = new Set([model.source]);
  for (const graph of model.graphs()) {
    for (const init of graph.initializers()) {
      const location = init.externalData?.location;
      if (location) files.add(join(dirname(model.source), location));
    }
  }
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  return total;
}

/**
 * Threads to quantize weights on when --threads is not given: one, no worker thread. On the scale
 * bench's 201M-parameter stack (README), two threads were 1.07x as fast as one on a loaded 2-core
 * machine, within its noise, and their peak RSS (0.40x the float model) passed the 0.25x target one
 * thread meets; --threads is for compute-heavy runs (--clip mse) on cores that are free.
 */
const DEFAULT_THREADS = 1;

const FORMATS: readonly WeightOnlyFormat[] = ['qdq', 'matmulnbits'];
const CLIP_METHODS = ['rtn', 'mse'] as const;

function oneOf<T extends string>(values: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(values as readonly string[]).includes(text))
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return text as T;
  };
}

function commaList(value: string, previous: readonly string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  ];
}

function wholeNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new InvalidArgumentError('expected a whole number, e.g. 1');
  return value;
}

function fmt(value: number | string | null, digits = 1): string {
  if (value === null) return '-';
  if (typeof value === 'string') return value;
  return value.toFixed(digits);
}

/** The report as a table (stderr): one row per quantized layer, then model-level lines. */
export function reportTable(doc: QuantizationReportDocument): string {
  // Layers inside If/Loop/Scan bodies are named with their graph's path; a model without any
  // keeps the table as it was.
  const nested = doc.layers.some((l) => l.graph !== 'main');
  const rows = doc.layers.map((l) => [
    l.node,
    ...(nested ? [l.graph] : []),
    l.op,
    l.depthwise ? 'yes' : 'no',
    l.scheme,
    fmt(l.weight_sqnr_db),
    l.input ? `${l.input.min.toPrecision(3)}..${l.input.max.toPrecision(3)}` : 'float',
    fmt(l.output_sqnr_db),
  ]);
  const table = formatTable(
    ['layer', ...(nested ? ['graph'] : []), 'op', 'dw', 'weights', 'w SQNR dB', 'input range', 'out SQNR dB'],
    rows,
  );
  const outputs = Object.entries(doc.model_output_sqnr_db)
    .map(([name, v]) => `'${name}' ${fmt(v)} dB`)
    .join(', ');
  const lines = [
    table,
    '',
    `model output SQNR vs float (${doc.holdout_batches} held-back batches): ${outputs || 'not measured (no held-back data)'}`,
    `size ${formatBytes(doc.size.before)} -> ${formatBytes(doc.size.after)} (${(doc.size.ratio * 100).toFixed(1)}%)`,
    `  ${breakdownLine(doc.size)}`,
    ...storageLines(doc.weight_storage),
    ...doc.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

function storageLines(storage: QuantizationReportDocument['weight_storage']): string[] {
  if (!storage) return [];
  const table = formatTable(
    ['weight', 'form', 'bits/weight'],
    storage.layers.map((l) => [l.weight, l.form, l.bits_per_weight.toFixed(3)]),
  );
  return [
    '',
    table,
    `weights: ${storage.elements} elements, ${storage.bits_per_weight.toFixed(3)} bits per weight, ${formatBytes(storage.bytes_before)} -> ${formatBytes(storage.bytes_after)}`,
    `file: ${storage.file_bytes} bytes; predicted from the weights ${storage.predicted_file_bytes} bytes (graph overhead ${storage.file_bytes - storage.predicted_file_bytes} bytes)`,
  ];
}

/**
 * Reads, prepares, calibrates (or reads a calibration cache), quantizes and writes a model, and
 * measures the result on held-back batches. Nothing is written until everything has succeeded,
 * and then atomically. The work is the pipeline's `quantize`; this maps flags to its options.
 */
export async function quantizeCommand(
  path: string,
  options: QuantizeCommandOptions,
  globals: Partial<GlobalOptions>,
  io: CliIO,
): Promise<QuantizationReportDocument> {
  const read = await readModel(path);
  checkExcludes(read, options.exclude);
  const output = resolve(options.output);
  const spill = await openSpill(read, output, options);
  try {
    const model = spill
      ? new Model(read.proto, { externalData: spill.over(read.externalData), source: read.source })
      : read;
    return await quantizeRead(path, model, output, options, globals, io, spill);
  } finally {
    spill?.remove();
  }
}

/** True when the model keeps any initializer in external data. */
export function hasExternalData(model: Model): boolean {
  return model.graphs().some((g) => g.initializers().some((i) => i.storage === 'external'));
}

/**
 * The scratch file quantized weights go to as each is made, when the output is to have external
 * data or the input has it (a model that may not fit in memory): in the output's folder, so that
 * it shares its disk. Undefined for models that stay in memory.
 */
async function openSpill(
  model: Model,
  output: string,
  options: QuantizeCommandOptions,
): Promise<ExternalDataSpill | undefined> {
  if (!options.externalData && !hasExternalData(model)) return undefined;
  // An output folder that does not exist yet is created, as users expect of -o.
  await mkdir(dirname(output), { recursive: true });
  return ExternalDataSpill.create(dirname(output), basename(output));
}

/** Moves each weight's new initializers that would go to external data into the spill file. */
function spillHook(spill: ExternalDataSpill, threshold: number): WeightWrittenHook {
  return (added) => {
    for (const init of added) {
      if (init.storage !== 'external' && (init.byteLength ?? 0) >= threshold)
        spill.spill(init.proto, init.bytes());
    }
  };
}

/** The quantize command on a model already read (and wrapped over the spill file when streaming). */
async function quantizeRead(
  path: string,
  model: Model,
  output: string,
  options: QuantizeCommandOptions,
  globals: Partial<GlobalOptions>,
  io: CliIO,
  spill: ExternalDataSpill | undefined,
): Promise<QuantizationReportDocument> {
  const reportPath = options.report === undefined ? undefined : resolve(options.report);
  const htmlPath = options.reportHtml === undefined ? undefined : resolve(options.reportHtml);
  const outputs = [
    output,
    ...(reportPath ? [reportPath] : []),
    ...(htmlPath ? [htmlPath] : []),
    ...(options.externalData ? [`${output}.data`] : []),
  ];
  await refuseOverwritingInput(model, outputs);
  if (reportPath === output)
    throw new UsageError('--report and -o name the same file; give the report its own path');
  if (htmlPath === output)
    throw new UsageError('--report-html and -o name the same file; give the HTML report its own path');
  if (htmlPath !== undefined && htmlPath === reportPath)
    throw new UsageError('--report-html and --report name the same file; give each report its own path');
  if (options.weightsOnly && options.dynamic)
    throw new UsageError('--weights-only and --dynamic are two different modes; pick one');
  if (
    options.plan !== undefined &&
    (options.weightsOnly ||
      options.dynamic ||
      options.calibration ||
      options.weights !== undefined ||
      options.exclude)
  )
    throw new UsageError(
      '--plan sets every scheme, range and exclusion itself; drop --weights, --weights-only, --dynamic, --calibration and --exclude',
    );
  const mode: QuantizeMode = options.weightsOnly ? 'weight-only' : options.dynamic ? 'dynamic' : 'static';
  const plan = options.plan === undefined ? undefined : await readPlan(resolve(options.plan));
  // Weight-only and dynamic models have no activation range to calibrate, nor has a plan (it holds
  // every range); data, when given, measures.
  const dataFree = mode !== 'static' || plan !== undefined;
  if (!dataFree && !options.data && !options.calibration) {
    throw new UsageError('quantize needs calibration data (--data) or a calibration cache (--calibration)');
  }
  const backend = await resolveBackend(globals.backend ?? DEFAULT_BACKEND, io);
  const sha256 = plan ? await sha256Hex(new Uint8Array(await readFile(model.source))) : '';
  prepareModel(model, { foldBatchNorm: true });
  const planned = plan ? applyPlan(model, plan.document, sha256, path, plan.path) : undefined;
  // The float reference for the report: the same file read and prepared again (weights are read
  // lazily, so this costs the graph, not a copy of every weight).
  const floatModel = await readModel(path);
  prepareModel(floatModel, { foldBatchNorm: true });

  const warnings: string[] = [];
  const runner = nodeRunnerFactory();
  let calibration: ReturnType<typeof splitData>['calibration'] | undefined;
  let holdout: ReturnType<typeof splitData>['holdout'] | undefined;
  let held = 0;
  let batches = 0;
  let data: { description: string; random: boolean } | undefined;
  if (options.data) {
    // openModelData warns about random data once; the report records it in `data`.
    const source = await openModelData(model, options, io);
    data = { description: source.description, random: source.random };
    batches = source.count === undefined ? 0 : Math.ceil(source.count / (options.batchSize ?? 1));
    held = dataFree
      ? batches
      : Math.min(options.holdout ?? defaultHoldout(batches), Math.max(batches - 1, 0));
    const parts = splitData(source, batches, held);
    calibration = parts.calibration;
    holdout = held > 0 ? parts.holdout : undefined;
  }
  const ranges = options.calibration
    ? rangesFromCache(
        await readCalibrationCache(
          resolve(options.calibration),
          new Uint8Array(await readFile(model.source)),
          {
            modelPath: model.source,
          },
        ),
      )
    : undefined;

  const bar = progress(io, 'quantizing');
  let result: QuantizeResult;
  try {
    result = await quantize(model, {
      mode,
      ...(options.weights !== undefined ? { weights: options.weights } : {}),
      activations: options.dynamic ?? options.activations,
      method: options.method,
      format: options.format,
      clip: options.clip,
      ...(options.exclude ? { exclude: options.exclude } : {}),
      ...planned,
      ...(ranges ? { ranges } : {}),
      ...(calibration ? { data: calibration, runner } : {}),
      backend,
      threads: options.threads ?? DEFAULT_THREADS,
      ...(options.minParallelElements !== undefined
        ? { minParallelElements: options.minParallelElements }
        : {}),
      // Calibration counts batches without knowing how many there are; the command does.
      onProgress: (e) => bar.update(e.done, e.total > 0 ? e.total : held === batches ? 0 : batches - held),
      ...(spill
        ? { onWeightWritten: spillHook(spill, options.externalDataThreshold ?? DEFAULT_EXTERNAL_THRESHOLD) }
        : {}),
    });
  } finally {
    bar.done();
  }
  const { report } = result;
  const blockWeights = report.totals !== undefined;

  // MatMulNBits and dynamic rewrites replace a node but keep its output name: fall back to the float model's.
  const nodeOutputs = new Map(
    [...floatModel.graph.nodes, ...model.graph.nodes].map((n) => [n.name, n.output[0] ?? '']),
  );
  const comparison = holdout
    ? await compareModels(floatModel, model, holdout, {
        runner,
        layerwise: true,
        tensors: report.weights
          .flatMap((w) => w.nodes.map((n) => nodeOutputs.get(n) ?? ''))
          .filter((t) => t !== ''),
      })
    : undefined;
  // An output folder that does not exist yet is created, as users expect of -o.
  await mkdir(dirname(output), { recursive: true });
  const { written, note } = await writeOutputModel(model, output, {
    input: floatModel,
    ...(options.externalData ? { externalData: true } : {}),
    ...(options.externalDataThreshold !== undefined ? { threshold: options.externalDataThreshold } : {}),
    ...(options.externalDataLimit !== undefined ? { limit: options.externalDataLimit } : {}),
  });
  if (note) warnings.push(note);
  const sizeBefore = await modelFileBytes(floatModel);
  const sizeAfter = written.modelBytes + written.dataBytes;
  const doc = buildReportDocument({
    input: model.source,
    output,
    settings: {
      weights: result.schemes.weights,
      activations: result.schemes.activations,
      mode,
      ...(blockWeights ? { format: options.format } : {}),
      clip: options.clip,
      method: plan ? 'plan' : dataFree ? 'none' : options.calibration ? 'cache' : options.method,
      exclude: options.exclude ?? [],
      backend: backend.name,
    },
    report,
    comparison,
    nodeOutputs,
    sizeBefore,
    sizeAfter,
    sizeBreakdown: sizeBreakdown(model, sizeAfter),
    holdoutBatches: held,
    warnings,
    ...(data ? { data } : {}),
    ...(dataFree
      ? { weightStorage: weightStorageSummary(report, inlineModelSize(floatModel), sizeAfter) }
      : {}),
  });
  // Drawn before either report is written, so that a failure here leaves neither behind.
  const html = htmlPath
    ? renderHtmlReport(
        quantizeHtmlReport({
          document: doc,
          floatModel,
          ...(result.observers ? { observers: result.observers } : {}),
          backend,
        }),
      )
    : undefined;
  if (reportPath) {
    await mkdir(dirname(reportPath), { recursive: true });
    await writeTextAtomically(reportPath, `${JSON.stringify(doc, null, 2)}\n`);
  }
  if (htmlPath && html !== undefined) {
    await mkdir(dirname(htmlPath), { recursive: true });
    await writeTextAtomically(htmlPath, html);
  }
  return doc;
}

/** Reads and checks a plan file from qgrain advise (not yet against the model). */
async function readPlan(path: string): Promise<{ path: string; document: PlanDocument }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new QgrainError('io', `cannot read the plan ${path}: ${(error as Error).message}`, {
      file: path,
      option: 'plan',
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new QgrainError('invalid-argument', `${path} is not JSON; give the plan file qgrain advise wrote`, {
      file: path,
      option: 'plan',
    });
  }
  return { path, document: validatePlan(value, path) };
}

/** The parts of the written file, each with its share of the float model's size. */
function breakdownLine(size: QuantizationReportDocument['size']): string {
  const b = size.breakdown;
  const part = (label: string, bytes: number) =>
    `${label} ${formatBytes(bytes)} (${((bytes / size.before) * 100).toFixed(1)}%)`;
  return [
    part('quantized weights', b.quantized_weights),
    part('int32 biases', b.int32_biases),
    part('scales and zero points', b.scales_and_zero_points),
    part('other constants', b.other_constants),
    part('graph', b.graph),
  ].join(', ');
}

/** Adds `qgrain quantize <in.onnx> -o <out.onnx> --data ...`. */
export function addQuantizeCommand(program: Command, io: CliIO): void {
  const command = program
    .command('quantize')
    .description(
      'quantize a float model to QDQ int8 (weights per channel, activations calibrated per tensor) and report the cost per layer',
    )
    .argument('<model>', 'the float .onnx model (never modified)')
    .requiredOption('-o, --output <path>', 'where to write the quantized model')
    .option(
      '--calibration <cache.json>',
      'activation ranges from qgrain calibrate instead of calibrating here',
    )
    .option(
      '--method <method>',
      'calibration method: minmax, percentile[:P], entropy or mse',
      DEFAULT_CALIBRATION_METHOD,
    )
    .option(
      '--weights <scheme>',
      `weight scheme (default ${DEFAULT_WEIGHT_SCHEMES.static}; ${DEFAULT_WEIGHT_SCHEMES['weight-only']} with --weights-only)`,
    )
    .option('--activations <scheme>', 'activation scheme (per-tensor)', DEFAULT_ACTIVATION_SCHEME)
    .option('--exclude <node|op,...>', 'node names or op types to keep float (repeatable)', commaList)
    .option(
      '--holdout <batches>',
      'batches held back from calibration to measure the result (default: one in eight)',
      wholeNumber,
    )
    .option(
      '--weights-only',
      'quantize weights only (MatMul/Gemm/Gather with a per-block scheme); no data needed',
    )
    .option(
      '--format <form>',
      'block weights as qdq (DequantizeLinear-21) or matmulnbits (com.microsoft)',
      oneOf(FORMATS),
      'qdq',
    )
    .option(
      '--clip <method>',
      'weight clipping range: rtn (full range) or mse (grid search per channel or block)',
      oneOf(CLIP_METHODS),
      'rtn',
    )
    .option(
      '--dynamic <scheme>',
      'dynamic W8A8 for MatMul/Gemm: activations int8/per-token or uint8/per-tensor; no data needed',
    )
    .option('--threads <n>', 'threads to quantize weights on (default 1: no worker thread)', positiveInteger)
    .option(
      '--plan <plan.json>',
      'apply a plan from qgrain advise: every scheme, range and calibrator as it says (no calibration data needed)',
    );
  addExternalDataOptions(command)
    .option('--report <report.json>', 'write the report as JSON')
    .option(
      '--report-html <report.html>',
      'write the report as one self-contained HTML page: SQNR per layer, channel ranges, activation histograms',
    )
    .option('--json', 'print the report as JSON on stdout instead of the table on stderr');
  addDataOptions(command, false).action(
    async (path: string, options: QuantizeCommandOptions, cmd: Command) => {
      const doc = await quantizeCommand(path, options, cmd.optsWithGlobals<Partial<GlobalOptions>>(), io);
      if (options.json) {
        io.out(`${JSON.stringify(doc, null, 2)}\n`);
        // Warnings go to stderr whatever the format; the document keeps them too.
        for (const w of doc.warnings) io.err(`qgrain: warning: ${w}\n`);
      } else io.err(reportTable(doc));
    },
  );
}
