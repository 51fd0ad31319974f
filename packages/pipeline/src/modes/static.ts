import { formatQuantSpec, qparamsFromRanges, qparamsFromValues, storageCost } from '@qgrain/granularity';
import {
  type Model,
  OnnxDataType,
  QDQ_BLOCKED_OPSET,
  QDQ_PER_AXIS_OPSET,
  elementTypes,
  upgradeOpset,
} from '@qgrain/onnx';
import { type Observer, qparamsFromObserver } from '@qgrain/observers';
import { type Backend, QgrainError, jsBackend, shapeSize } from '@qgrain/tensor';
import { type CalibrateOptions, type FeedSource, calibrateActivations } from '../calibrate/calibrate.js';
import { checkCalibratedRanges } from '../calibrate/finite-ranges.js';
import {
  type ActivationStorage,
  type WeightFloatType,
  emitActivationQdq,
  emitBiasDequantize,
  emitQuantizedWeight,
} from '../emit/emit-qdq.js';
import { type WeightWrittenHook, newModelInitializers } from '../emit/written-initializers.js';
import { graphsByPath, initializerOwner } from '../plan/graph-scope.js';
import type { Plan, PlanOptions } from '../plan/plan.js';
import { observerTargets } from '../plan/plan.js';
import { planModel, qdqOpsetOf } from '../plan/plan-model.js';
import { weightView } from '../plan/weight-analysis.js';
import { RECURRENT_GATES, WEIGHT_OPS } from '../plan/weight-roles.js';
import { skippedWeightNotes } from './skip-notes.js';
import type { ClipMethod } from './clip-search.js';
import { biasScaleNeeds } from './bias-widening.js';
import { borrowsModelBytes, inPlanOrder, openWeightPool } from '../parallel/weight-pool.js';
import type { WeightTaskResult } from '../parallel/weight-task.js';
import type {
  ActivationReport,
  BiasReport,
  QuantizeReport,
  WeightReport,
} from '../report/quantize-report.js';
import type { RunnerFactory } from '../runner/runner.js';

/** Calibration method used when none is given: see docs for why (MSE-optimal clipping on a histogram). */
export const DEFAULT_CALIBRATION_METHOD = 'mse';

/** Options of the static mode (see `QuantizeOptions`, which adds the mode and its defaults). */
export interface StaticOptions extends PlanOptions {
  /** Calibration feeds; required unless every activation has a fixed range or `ranges` covers it. */
  readonly data?: FeedSource;
  readonly runner?: RunnerFactory;
  /** Calibration method text (default 'mse'). */
  readonly method?: string;
  /** Ranges from a calibration cache: tensor -> { min, max } (per-tensor numbers). */
  readonly ranges?: Readonly<Record<string, { min: number; max: number }>>;
  readonly backend?: Backend;
  /** Histogram options for the observers (bins, minCoverage, ...). */
  readonly observer?: CalibrateOptions['observer'];
  readonly onProgress?: (event: { stage: string; done: number; total: number }) => void;
  /** Called after each weight is written, with what it added (see `WeightWrittenHook`). */
  readonly onWeightWritten?: WeightWrittenHook;
  /**
   * Each weight scale's clipping range: round-to-nearest on the full range (default) or the MSE
   * grid search of clip-search.ts, per scale group (a channel, a block).
   */
  readonly clip?: ClipMethod;
  /**
   * Threads to quantize weights on (default 1: the calling thread). Workers quantize several
   * weights at once; the output is the same bytes. See parallel/weight-pool.ts.
   */
  readonly threads?: number;
  /**
   * Weights with fewer elements in all than this stay on the calling thread, whatever `threads`
   * says (default MIN_PARALLEL_ELEMENTS: below it, starting workers costs more than they save).
   */
  readonly minParallelElements?: number;
}

/**
 * Static quantization of a (prepared) float model, in place: plan, calibrate, quantize weights,
 * insert Q/DQ. Raises the opset to per-axis Q/DQ's, and to blocked Q/DQ's when a scheme needs 16-
 * or 4-bit types, blocks or float16 scales. Weight-only schemes that are not blocks come here too,
 * with `weightsOnly` set. Reached through `quantize`.
 */
export async function quantizeStatic(
  model: Model,
  options: StaticOptions = {},
): Promise<{ plan: Plan; report: QuantizeReport; observers: ReadonlyMap<string, Observer> }> {
  const backend = options.backend ?? jsBackend;
  const method = options.method ?? DEFAULT_CALIBRATION_METHOD;
  const from = model.opsetVersion() ?? QDQ_PER_AXIS_OPSET;
  const plan = planModel(model, options);
  const graphs = graphsByPath(model);
  // float16 tensors need float16 scales (a DequantizeLinear's output takes its scale's type), which
  // Q/DQ have from opset 19; the blocked-Q/DQ opset is the one qgrain names past it.
  const types = elementTypes(model.graph);
  const floatType = (tensor: string): WeightFloatType =>
    types.get(tensor) === OnnxDataType.FLOAT16 ? 'float16' : 'float32';
  const half =
    plan.activations.some((a) => floatType(a.tensor) === 'float16') ||
    plan.weights.some((w) => graphs.get(w.graph)!.initializer(w.initializer)!.dtype === 'float16');
  const upgrade = upgradeOpset(model, Math.max(qdqOpsetOf(plan), half ? QDQ_BLOCKED_OPSET : 0));
  const notes: string[] = [];

  // 1. Activation ranges: fixed by the user, from a cache, or calibrated on data.
  const toCalibrate = plan.activations
    .filter((a) => !a.fixed && !options.ranges?.[a.tensor])
    .map((a) => a.tensor);
  let observers = new Map<string, Observer>();
  let calibration: QuantizeReport['calibration'];
  if (toCalibrate.length > 0) {
    if (!options.data || !options.runner) {
      // Ranges were given but miss these tensors: the cache was made for other tensor names, by a
      // qgrain whose prepare passes differ or with other include/exclude settings.
      const stale = options.ranges
        ? '; the calibration cache has no range for them (made with other settings or by another qgrain version?), so calibrate again'
        : '';
      throw new QgrainError(
        'missing-data',
        `${toCalibrate.length} activations need calibration data (e.g. '${toCalibrate[0]}')${stale}; give calibration data and a runner, or ranges from a calibration cache`,
        { tensor: toCalibrate[0]!, value: toCalibrate.length, option: 'data' },
      );
    }
    const result = await calibrateActivations(model, toCalibrate, options.data, {
      method,
      runner: options.runner,
      observer: { ...options.observer, backend },
      observerFor: observerTargets(plan.activations),
      onProgress: (e) =>
        options.onProgress?.({ stage: `calibrate pass ${e.pass}/${e.passes}`, done: e.batch, total: 0 }),
    });
    observers = result.observers;
    notes.push(...checkCalibratedRanges(observers));
    calibration = { method, batches: result.batches, passes: result.passes };
    // One note per reason: a branch no batch took leaves all of its activations unobserved.
    for (const reason of new Set(result.skipped.map((s) => s.reason))) {
      const tensors = result.skipped.filter((s) => s.reason === reason).map((s) => `'${s.tensor}'`);
      const named = tensors.length > 1 ? `${tensors.length} activations (e.g. ${tensors[0]})` : tensors[0];
      notes.push(`${named}: ${reason}; their readers keep float inputs`);
    }
  }

  // 2. Activations (first: their scales bound the weight scales that int32 biases allow).
  const nodeInputs: Record<string, string> = {};
  const planned = new Set(plan.weights.flatMap((w) => w.nodes));
  for (const g of graphs.values())
    for (const node of g.nodes) if (planned.has(node.name)) nodeInputs[node.name] = node.input[0]!;
  // A bias as its node's graph sees it (it may be an initializer of an enclosing graph).
  const biasInitializer = (b: Plan['biases'][number]) => graphs.get(b.graph)?.initializer(b.initializer);
  const activationReports: ActivationReport[] = [];
  const activationScales = new Map<string, number>();
  for (const a of plan.activations) {
    // Calibration could not observe it (a branch no batch took): its readers keep float inputs.
    if (!a.fixed && !options.ranges?.[a.tensor] && !observers.has(a.tensor)) continue;
    const graph = graphs.get(a.graph)!;
    const qp = a.fixed
      ? qparamsFromValues([a.fixed.scale], [a.fixed.zeroPoint], a.spec, [])
      : options.ranges?.[a.tensor]
        ? qparamsFromRanges([options.ranges[a.tensor]!.min], [options.ranges[a.tensor]!.max], a.spec, [])
        : qparamsFromObserver(observers.get(a.tensor)!, a.spec, { shape: [] });
    const storage = qp.range.storage as ActivationStorage;
    if (!['uint8', 'int8', 'uint16', 'int16'].includes(storage)) {
      throw new QgrainError(
        'invalid-spec',
        `activation '${a.tensor}': ${formatQuantSpec(a.spec)} has no QDQ activation form; use 8 or 16 bits`,
        { tensor: a.tensor, value: formatQuantSpec(a.spec), option: 'activations' },
      );
    }
    const scale = qp.scale[0]!;
    const zeroPoint = qp.zeroPoint[0]!;
    emitActivationQdq(graph, a.tensor, scale, zeroPoint, storage, undefined, floatType(a.tensor));
    activationScales.set(a.tensor, scale);
    const observed = observers.get(a.tensor)?.range();
    activationReports.push({
      tensor: a.tensor,
      scheme: formatQuantSpec(a.spec),
      method: a.fixed ? 'fixed' : options.ranges?.[a.tensor] ? 'cache' : method,
      min: observed ? observed.min[0]! : (qp.range.qmin - zeroPoint) * scale,
      max: observed ? observed.max[0]! : (qp.range.qmax - zeroPoint) * scale,
      scale,
      zeroPoint,
      for: a.for,
      ...(a.saturation ? { saturation: a.saturation } : {}),
    });
  }

  // 3. Weights, with a channel's scale widened where its bias would otherwise overflow int32;
  // quantized a few at a time when there are threads (see parallel/weight-pool.ts), emitted in
  // plan order.
  const weightReports: WeightReport[] = [];
  const weightScales = new Map<string, Float32Array>();
  const written = newModelInitializers(model);
  const weights = plan.weights.filter((w) => {
    if (w.spec.granularity.kind !== 'per-block' || w.role.blockAxis >= 0) return true;
    notes.push(`${w.initializer}: kept float (its ${w.role.op} layout has no axis to cut blocks along)`);
    return false;
  });
  const pool = openWeightPool({
    threads: options.threads ?? 1,
    ...(options.minParallelElements !== undefined ? { minElements: options.minParallelElements } : {}),
    backend,
    weights: weights.length,
    elements: weights.reduce(
      (n, w) => n + shapeSize(graphs.get(w.graph)!.initializer(w.initializer)!.dims),
      0,
    ),
  });
  const start = async (w: Plan['weights'][number]) => {
    const init = graphs.get(w.graph)!.initializer(w.initializer)!;
    const values = init.toTensor().toFloat32();
    const view = weightView(w.spec, init.dims, w.role);
    // Biases go int32 at s_x * s_w per output channel, which only a per-channel (or per-tensor)
    // weight has; a blocked weight runs as float after its DequantizeLinear, and its bias stays float.
    const blocked = w.spec.granularity.kind === 'per-block';
    const task = {
      name: w.initializer,
      spec: w.spec,
      shape: view.shape,
      context: view.context,
      form: 'qdq',
      ...(options.clip ? { clip: options.clip } : {}),
      ...(blocked
        ? {}
        : { biasNeeds: biasScaleNeeds(w.initializer, plan, activationScales, biasInitializer) }),
    } as const;
    return pool.run(values, task, borrowsModelBytes(values, init));
  };
  const finish = (w: Plan['weights'][number], result: WeightTaskResult) => {
    const owner = graphs.get(w.graph)!;
    const init = owner.initializer(w.initializer)!;
    const { qp } = result;
    for (const { bias, widened } of result.widenings) notes.push(wideningNote(w.initializer, bias, widened));
    if (w.spec.granularity.kind !== 'per-block') weightScales.set(w.initializer, qp.scale);
    // onnxruntime fuses a Gemm into QGemm only when its weight's zero points are explicit.
    const explicitZeroPoint = w.role.op === 'Gemm';
    const dtype = init.dtype === 'float16' ? 'float16' : 'float32';
    const view = weightView(w.spec, init.dims, w.role);
    const reshaped = view.shape.length !== init.dims.length || view.shape.some((d, i) => d !== init.dims[i]);
    emitQuantizedWeight(
      owner,
      w.initializer,
      result.stored!,
      reshaped ? qp : { ...qp, shape: init.dims },
      explicitZeroPoint,
      reshaped ? { reshapeTo: init.dims, dtype } : { dtype },
    );
    weightReports.push({
      name: w.initializer,
      nodes: w.nodes,
      op: w.role.op,
      shape: init.dims,
      depthwise: w.role.depthwise,
      scheme: formatQuantSpec(w.spec),
      sqnrDb: result.sqnrDb,
      ...(result.clipped ? { rtnSqnrDb: result.rtnSqnrDb } : {}),
      bytesBefore: init.byteLength ?? shapeSize(init.dims) * 4,
      bytesAfter: storageCost(view.shape, w.spec, view.context).bytes,
      graph: w.graph,
      ...(w.readerGraphs ? { readerGraphs: w.readerGraphs } : {}),
      ...(w.via ? { via: w.via } : {}),
    });
    options.onWeightWritten?.(written());
  };
  try {
    await inPlanOrder(weights, pool, start, finish);
  } finally {
    await pool.close();
  }
  const covered = [...Object.keys(WEIGHT_OPS), ...Object.keys(RECURRENT_GATES)];
  notes.push(
    ...skippedWeightNotes(
      model,
      options.weightsOnly ? 'weight-only' : 'static',
      covered,
      plan.skipped,
      weightReports.length,
    ),
  );

  // 4. Biases to int32 where the input is quantized.
  const biasReports: BiasReport[] = [];
  for (const b of plan.biases) {
    const inputScale = activationScales.get(b.input);
    const weightScale = weightScales.get(b.weight);
    const init = biasInitializer(b);
    if (inputScale === undefined || weightScale === undefined || !init) {
      biasReports.push({
        name: b.initializer,
        node: b.node,
        quantized: false,
        note:
          inputScale === undefined
            ? 'input not quantized; kept float'
            : 'weight quantized per block (no integer kernel takes it); kept float',
      });
      continue;
    }
    const outcome = emitBiasDequantize(
      initializerOwner(graphs.get(b.graph)!, b.initializer)!,
      b.initializer,
      init.toTensor().toFloat32(),
      inputScale,
      weightScale,
      init.dtype === 'float16' ? 'float16' : 'float32',
    );
    biasReports.push(
      outcome.quantized
        ? { name: b.initializer, node: b.node, quantized: true }
        : { name: b.initializer, node: b.node, quantized: false, note: outcome.reason },
    );
    if (!outcome.quantized) notes.push(outcome.reason);
  }
  options.onWeightWritten?.(written());

  return {
    plan,
    observers,
    report: {
      mode: options.weightsOnly ? 'weight-only' : 'static',
      opset: { from, to: upgrade.to },
      weights: weightReports,
      activations: activationReports,
      biases: biasReports,
      excluded: plan.excluded,
      nodeInputs,
      calibration,
      notes,
    },
  };
}

/** Channels listed by number in a widening note; more are counted. */
const LISTED_CHANNELS = 8;

function wideningNote(
  weight: string,
  bias: string,
  widened: readonly { channel: number; from: number; to: number }[],
): string {
  const short = (v: number) => v.toPrecision(3);
  const why = `so that bias '${bias}' fits int32`;
  if (widened.length === 1) {
    const { channel, from, to } = widened[0]!;
    return `weight '${weight}' channel ${channel}: scale widened from ${short(from)} to ${short(to)} ${why}`;
  }
  const channels = widened.slice(0, LISTED_CHANNELS).map((w) => w.channel);
  const more = widened.length > LISTED_CHANNELS ? `, ... (${widened.length} in all)` : '';
  const from = Math.max(...widened.map((w) => w.from));
  const to = Math.max(...widened.map((w) => w.to));
  return `weight '${weight}' channels ${channels.join(', ')}${more}: scales widened from at most ${short(from)} to at most ${short(to)} ${why}`;
}
