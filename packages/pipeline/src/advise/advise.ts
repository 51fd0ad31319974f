// The granularity advisor: for each quantizable tensor of a model, the cheapest option (weight
// scheme; activation precision and calibrator) that keeps the model within a budget, chosen from
// measurements on held-back data.
//
// 1. Calibrate once, with |x| histograms: every calibrator's range (minmax, percentile, entropy,
//    mse) at every precision is read from the same histograms.
// 2. Measure each tensor alone: one run per option (per held-back batch) of a switchboard model in
//    which that tensor, and only it, is quantized. Weights: every option. Activations: the
//    default calibrator's 8-bit range, then, for the activations that cost the output most, every
//    other calibrator's range (scale and zero point are inputs of the switchboard); the rest are
//    predicted by scaling with their local noise.
// 3. Measure latency: the float model, the all-8-bit model and the other precisions' models. A
//    node runs on an integer kernel only while every activation it needs is 8-bit; leaving one
//    off costs the node's share of the gap, by multiply-accumulates and by weight elements.
// 4. Choose (choose.ts), build the chosen model, and measure it. When it misses the target, aim
//    higher by the miss and choose again; when it runs over the latency cap, time shorter runs of
//    the search's upgrades until the longest that fits is found. The best model built is kept.
import { formatQuantSpec, sqnrFromSums } from '@qgrain/granularity';
import { type Model, parseModel, serializeModel } from '@qgrain/onnx';
import type { Observer } from '@qgrain/observers';
import { HistogramObserver } from '@qgrain/observers';
import { type Backend, QgrainError, type Tensor, jsBackend } from '@qgrain/tensor';
import { fakeQuant } from '@qgrain/granularity';
import { type CalibrateOptions, type FeedSource, calibrateActivations } from '../calibrate/calibrate.js';
import { DEFAULT_WEIGHT_SCHEME, observerTargets, type Plan } from '../plan/plan.js';
import { planModel } from '../plan/plan-model.js';
import { DEFAULT_CALIBRATION_METHOD } from '../modes/static.js';
import { quantize } from '../quantize.js';
import { activationHistogram } from '../report/html/histograms.js';
import { weightChannelRanges } from '../report/html/quantize-data.js';
import type {
  ActivationHistogram,
  ChannelRanges,
  FrontierPoint,
  HtmlReportData,
  LayerRow,
} from '../report/html/report-data.js';
import type { Runner, RunnerFactory } from '../runner/runner.js';
import {
  type ActivationCandidate,
  DEFAULT_ACTIVATION_CANDIDATES,
  DEFAULT_METHODS,
  DEFAULT_WEIGHT_CANDIDATES,
  FLOAT,
  type WeightCandidate,
  activationCandidates,
  parseActivationCandidates,
  parseMethods,
  parseWeightCandidates,
  weightCandidates,
} from './candidates.js';
import {
  type Budget,
  type Choice,
  type Decision,
  type LatencyGroup,
  choose,
  firstUpgrades,
  standaloneLatency,
  worstSqnrDb,
} from './choose.js';
import { PLAN_FORMAT, type PlanCandidate, type PlanDocument, planOptions } from './plan-file.js';
import { jobQueue } from './job-queue.js';
import { cutValues, modelTail } from './segments.js';
import { type Switchboard, type WeightSwitch, buildSwitchboard, switchFeeds } from './switchboard.js';

/** Options of {@link advise}. */
export interface AdviseOptions {
  /** Batches to calibrate on. */
  readonly calibration: FeedSource;
  /** Batches held back to measure on (never calibrated on). */
  readonly holdout: FeedSource;
  readonly runner: RunnerFactory;
  readonly budget: Budget;
  /** The model file's SHA-256 and name, which the plan is tied to. */
  readonly model: { readonly sha256: string; readonly name: string };
  /** Weight schemes to choose from (default int8 per tensor and per channel). */
  readonly weightCandidates?: readonly string[];
  /** Activation precisions to choose from: uint8, int16, float, ... (default all three). */
  readonly activationCandidates?: readonly string[];
  /** Calibrators to choose from (default minmax, percentile, entropy, mse). */
  readonly methods?: readonly string[];
  /** Node names or op types to keep float. */
  readonly exclude?: readonly string[];
  readonly backend?: Backend;
  readonly observer?: CalibrateOptions['observer'];
  /**
   * The model's file as the user has it, before preparation: the float latency and size every
   * ratio is taken against (default: the prepared model the advisor was given).
   */
  readonly floatModel?: Uint8Array;
  /** Timed runs per latency measurement (the median counts; default 5). */
  readonly latencyRuns?: number;
  /**
   * Runner for the switchboards' measuring runs (default `runner`); with `parallelRuns` above 1,
   * one that runs several runs at once (see `openRunnerPool`).
   */
  readonly measureRunner?: RunnerFactory;
  /** Switchboard runs issued at once (default 1). */
  readonly parallelRuns?: number;
  /** Runner for the latency measurements (default `runner`; one thread per session is steadier). */
  readonly latencyRunner?: RunnerFactory;
  /** With a target SQNR: the latency the advised model may have, as a share of the float model's. */
  readonly maxLatencyRatio?: number;
  /**
   * Activations, the ones that cost the output most first, whose every 8-bit range (one per
   * calibrator) is measured directly rather than predicted from its local noise.
   */
  readonly measuredRanges?: number;
  /**
   * Parts the switches are split into by where their tensor's readers begin (default 6): each
   * part is measured on the model's tail from its cut, fed what the float model made before it.
   */
  readonly segments?: number;
  /** Weights switched per switchboard (default 8): see the measuring step. */
  readonly weightGroup?: number;
  /** Verification rounds at most (default 3). */
  readonly rounds?: number;
  readonly onProgress?: (event: { stage: string; done: number; total: number }) => void;
  /** Where the data came from, for the plan file. */
  readonly data?: {
    readonly description: string;
    readonly calibrationBatches: number;
    readonly holdoutBatches: number;
  };
}

/** What one built model measured. */
export interface ModelMeasurement {
  /** Output SQNR against float per model output (dB). */
  readonly outputSqnrDb: Readonly<Record<string, number>>;
  readonly worstSqnrDb: number;
  /** Bytes of the serialized model. */
  readonly bytes: number;
  /** Median latency over the timed runs (ms), on the first held-back batch. */
  readonly latencyMs: number;
}

/** What {@link advise} returns. */
export interface Advice {
  readonly plan: PlanDocument;
  readonly report: HtmlReportData;
  /** The advised model, built and measured. */
  readonly advised: ModelMeasurement;
  /** The float model's latency, and the reference points measured in the same run. */
  readonly float: { readonly latencyMs: number; readonly bytes: number };
  readonly references: Readonly<Record<string, ModelMeasurement>>;
  readonly decision: Decision;
  /** How far the prediction was from the built model, per round (dB). */
  readonly rounds: readonly {
    readonly targetDb: number;
    readonly predictedDb: number;
    readonly measuredDb: number;
    /** With a latency cap: the built model's latency over the float model's, same run. */
    readonly latencyRatio?: number;
  }[];
  readonly notes: readonly string[];
  /** Wall time of each stage, in order (seconds; a stage's rounds count as one). */
  readonly stages: readonly { readonly stage: string; readonly seconds: number }[];
}

/** One measured tensor: its options, and the output noise of its reference option alone. */
interface Measured {
  readonly tensor: string;
  readonly kind: 'weight' | 'activation';
  /** Per model output, the noise of the reference option alone. */
  outputNoise: number[];
  readonly referenceNoise: number;
  /**
   * Options measured directly, by index: per-output noise. Weights: every option, the finest
   * through its group's run (see `grouped`).
   */
  readonly direct: Map<number, number[]>;
  /**
   * A weight's finest option (least noise of its own), measured with the same option of the other
   * weights of its switchboard in one run, and its share of that run's noise estimated.
   */
  readonly grouped?: number;
  /** The tensor's options (an activation's other calibrators join once it ranks among the costliest). */
  options: readonly (WeightCandidate | ActivationCandidate)[];
  labels: readonly string[];
  readonly localSignal?: number;
}

/** Weights switched per switchboard: a few slow nodes per run, against a session per group. */
const WEIGHT_GROUP = 8;

/** After its first timing, the float model is timed every this many iterations of a latency measurement. */
const FLOAT_EVERY = 3;

/** A built model this far above the target (dB) is followed by a cheaper one aimed lower. */
const SURPLUS_DB = 0.5;

/** Parts the switches are split into, each measured on the model's tail from its cut. */
const SEGMENTS = 6;

/** Activations (the costliest first) whose every 8-bit range is measured, not predicted. */
const MEASURED_RANGES = 16;

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

const median = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Sum of squared differences between two float outputs. */
function squaredError(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - y[i]!;
    sum += d * d;
  }
  return sum;
}

function sumOfSquares(t: Tensor): number {
  const x = t.toFloat32();
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
  return sum;
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? Math.round(v * 100) / 100 : null);

/**
 * Advises a (prepared, float) model: see the file comment. The model is planned (its opset raised
 * to per-axis Q/DQ's, which renames nothing a plan refers to) but otherwise left as it is.
 */
export async function advise(model: Model, options: AdviseOptions): Promise<Advice> {
  const backend = options.backend ?? jsBackend;
  const weightSpecs = parseWeightCandidates(options.weightCandidates ?? DEFAULT_WEIGHT_CANDIDATES);
  const activationSchemes = parseActivationCandidates(
    options.activationCandidates ?? DEFAULT_ACTIVATION_CANDIDATES,
  );
  const methods = parseMethods(options.methods ?? DEFAULT_METHODS);
  const budget = options.budget;
  if (budget.targetSqnrDb !== undefined && !Number.isFinite(budget.targetSqnrDb))
    throw new QgrainError('invalid-argument', `target SQNR ${budget.targetSqnrDb} dB is not a number`, {
      option: 'target-sqnr',
    });
  if (budget.maxBytes !== undefined && !(budget.maxBytes > 0))
    throw new QgrainError('invalid-argument', `size cap ${budget.maxBytes} bytes must be positive`, {
      option: 'max-size',
    });
  const report = options.onProgress ?? (() => {});
  // Wall time per stage, for the caller to see where the time went.
  const stages: { stage: string; seconds: number }[] = [];
  let stageStart = performance.now();
  /** Ends the stage under way: its seconds are those since it began. */
  const endStage = () => {
    const now = performance.now();
    const last = stages[stages.length - 1];
    if (last) last.seconds = (now - stageStart) / 1000;
    stageStart = now;
  };
  const progress = (event: { stage: string; done: number; total: number }) => {
    const stage = event.stage.replace(/ \d+$/, '');
    if (stages[stages.length - 1]?.stage !== stage) {
      endStage();
      stages.push({ stage, seconds: 0 });
    }
    report(event);
  };
  const notes: string[] = [];
  const plan = planModel(model, { ...(options.exclude ? { exclude: options.exclude } : {}) });
  const outputs = model.graph.outputNames();

  // 1. One calibration, |x| histograms for every activation.
  progress({ stage: 'calibrate', done: 0, total: 0 });
  const targets = observerTargets(plan.activations);
  const activationTensors = plan.activations.map((a) => a.tensor);
  let observers = new Map<string, Observer>();
  if (activationTensors.length > 0 && activationSchemes.some((s) => s !== FLOAT)) {
    const calibrated = await calibrateActivations(model, activationTensors, options.calibration, {
      method: 'mse',
      runner: options.runner,
      observer: { ...options.observer, backend },
      observerFor: (t) => ({ ...targets(t), symmetric: false }),
      onProgress: (e) => progress({ stage: 'calibrate', done: e.batch, total: 0 }),
    });
    observers = calibrated.observers;
    for (const s of calibrated.skipped) notes.push(`activation '${s.tensor}' stays float: ${s.reason}`);
  }

  // The held-back feeds are read once and kept: every measurement runs on them.
  const feeds: Readonly<Record<string, Tensor>>[] = [];
  for await (const feed of options.holdout()) feeds.push(feed);
  if (feeds.length === 0)
    throw new QgrainError(
      'missing-data',
      'advise needs held-back data to measure on; give more batches or --holdout',
      {
        option: 'holdout',
      },
    );

  // 2. Options of every tensor, and the reference option each is measured with.
  progress({ stage: 'options', done: 0, total: 0 });
  const measured: Measured[] = [];
  const weightSwitches: WeightSwitch[] = [];
  const fixedWeights = new Map<string, string>();
  for (const w of plan.weights) {
    const init = w.graph === 'main' ? model.graph.initializer(w.initializer) : undefined;
    if (init?.dtype !== 'float32') {
      fixedWeights.set(w.initializer, formatQuantSpec(w.spec));
      notes.push(
        `weight '${w.initializer}' keeps ${formatQuantSpec(w.spec)}: not measured (${init ? init.dtype : `inside ${w.graph}`})`,
      );
      continue;
    }
    const values = init.toTensor().toFloat32();
    const candidates = weightCandidates(w.initializer, values, init.dims, w.role, weightSpecs, backend);
    if (candidates.length === 0) {
      fixedWeights.set(w.initializer, DEFAULT_WEIGHT_SCHEME);
      continue;
    }
    // Every option of a weight but its finest is measured alone: its noise goes to the outputs
    // through the weight's channels in proportions that its own local noise cannot tell (per
    // tensor puts the same step on every channel, per channel a step to each channel's size).
    // The finest option, the one a weight that matters takes, is measured with its board's
    // group (see measureGroup).
    const reference = candidates.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    const finest = candidates.reduce((best, c, i) => (c.noise < candidates[best]!.noise ? i : best), 0);
    candidates.forEach((c, i) => {
      weightSwitches.push({
        tensor: w.initializer,
        key: `${w.initializer}#${i}`,
        quantized: fakeQuant(values, c.qp, backend),
      });
    });
    measured.push({
      tensor: w.initializer,
      kind: 'weight',
      outputNoise: [],
      referenceNoise: reference.noise,
      direct: new Map(),
      options: candidates,
      labels: candidates.map((c) => c.scheme),
      localSignal: reference.signal,
      ...(candidates.length > 1 && candidates[finest] !== reference ? { grouped: finest } : {}),
    });
  }
  const activationSwitches: Parameters<typeof buildSwitchboard>[2][number][] = [];
  const firstScheme = activationSchemes.find((s) => s !== FLOAT);
  // Calibrators other than the reference's are offered only where they are measured (the
  // costliest activations, step 2): predicted from local noise they were a median 5 dB off, so an
  // unmeasured switch of calibrator is a gamble, not a choice. Until then each activation has the
  // reference's method (all methods when the default is not among them, to pick the reference).
  const firstMethods = methods.includes(DEFAULT_CALIBRATION_METHOD) ? [DEFAULT_CALIBRATION_METHOD] : methods;
  for (const a of plan.activations) {
    const observer = observers.get(a.tensor);
    const candidates = observer
      ? activationCandidates(a.tensor, observer, activationSchemes, firstMethods)
      : activationSchemes.includes(FLOAT)
        ? [{ label: FLOAT, scheme: FLOAT, noise: 0 }]
        : [];
    if (candidates.length === 0) continue;
    const quantized = candidates.filter((c) => c.scheme === firstScheme);
    // The reference, measured first: the 8-bit option with quantize's default calibrator, else
    // the one with the least local noise.
    const reference = referenceOption(quantized);
    if (reference && a.graph === 'main')
      activationSwitches.push({
        tensor: a.tensor,
        scale: reference.scale!,
        zeroPoint: reference.zeroPoint!,
        storage: reference.storage!,
      });
    measured.push({
      tensor: a.tensor,
      kind: 'activation',
      outputNoise: [],
      referenceNoise: reference?.noise ?? 0,
      direct: new Map(),
      options: candidates,
      labels: candidates.map((c) => c.label),
    });
  }

  // The float outputs' signal on the held-back batches, then each switch alone.
  const signal = new Array<number>(outputs.length).fill(0);
  const weightTensors = new Set(weightSwitches.map((w) => w.tensor));
  const byTensor = new Map(measured.map((m) => [m.tensor, m]));
  // Weight options whose figure is a share of their group's run (`tensor#option`).
  const inGroup = new Set<string>();
  let done = 0;
  // The runs of a switchboard are independent: a runner that runs several at once (a pool of
  // sessions on worker threads) gets up to `parallelRuns` of them together, from a queue that
  // boards join as they are made, so the workers run while the next board is built and loaded.
  const boardRunner = options.measureRunner ?? options.runner;
  const queue = jobQueue(Math.max(1, options.parallelRuns ?? 1));
  progress({ stage: 'measure', done: 0, total: byTensor.size });

  // Segments: a switch changes nothing before the first node that reads its tensor, so it is
  // measured on the model's tail from a cut at or before that node (segments.ts), fed what the
  // float model made before the cut. The switches are split into `segments` parts of equal count
  // by where their readers begin; the first part runs the whole model.
  const order = model.graph.topologicalOrder();
  const positionOf = new Map(order.map((n, i) => [n, i]));
  const switchedActivations = new Set(activationSwitches.map((a) => a.tensor));
  /** The earliest node (topological position) the tail measuring tensor `m` must hold. */
  const firstReader = (m: Measured): number => {
    const readers = model.graph.consumers(m.tensor).map((n) => positionOf.get(n) ?? 0);
    const producer = model.graph.producer(m.tensor);
    // A model output's switch replaces its producer's output: the tail must hold the producer.
    if (model.graph.isOutput(m.tensor)) readers.push(producer ? positionOf.get(producer)! : 0);
    return Math.min(...readers, order.length);
  };
  const switched = measured.filter((m) =>
    m.kind === 'weight' ? weightTensors.has(m.tensor) : switchedActivations.has(m.tensor),
  );
  const readerOf = new Map(switched.map((m) => [m.tensor, firstReader(m)]));
  const positions = [...readerOf.values()].sort((a, b) => a - b);
  const starts = [0];
  const parts = Math.max(1, options.segments ?? SEGMENTS);
  // A tail must make a model output.
  const lastOutput = Math.max(
    ...outputs.map((o) => {
      const producer = model.graph.producer(o);
      return producer ? positionOf.get(producer)! : -1;
    }),
  );
  // What each tail reads from before its cut (none for the whole model).
  const cuts: string[][] = [[]];
  for (let k = 1; k < parts; k++) {
    const at = positions[Math.floor((k * positions.length) / parts)] ?? 0;
    if (at <= starts[starts.length - 1]! || at > lastOutput) continue;
    const cut = cutValues(model, at);
    if (cut.length === 0) continue;
    starts.push(at);
    cuts.push(cut);
  }
  const segmentOf = (tensor: string): number => {
    const at = readerOf.get(tensor) ?? 0;
    let j = 0;
    while (j + 1 < starts.length && starts[j + 1]! <= at) j++;
    return j;
  };
  const cutNames = [...new Set(cuts.flat())];
  interface Segment {
    /** The model the segment's switchboards are made of: the whole model, or its tail. */
    readonly base: Model;
    readonly outputs: readonly string[];
    feed(b: number): Record<string, Tensor>;
    /** The segment's outputs with every switch off, per held-back batch: what noise is against. */
    readonly reference: Promise<Record<string, Tensor>[]>;
  }
  /**
   * Output noise against a segment's reference, per model output, summed over the held-back
   * batches: `run` runs a batch's feed on whatever is being measured (the outputs the segment does
   * not make have none). The whole model, `segments[0]`, measures built models too.
   */
  const noiseIn = async (
    segment: Segment,
    run: (feed: Record<string, Tensor>, outputs: readonly string[]) => Promise<Record<string, Tensor>>,
  ): Promise<number[]> => {
    const noise = new Array<number>(outputs.length).fill(0);
    for (let b = 0; b < feeds.length; b++) {
      const out = await run(segment.feed(b), segment.outputs);
      const reference = (await segment.reference)[b]!;
      outputs.forEach((o, k) => {
        if (out[o]) noise[k]! += squaredError(out[o]!, reference[o]!);
      });
    }
    return noise;
  };

  // Activations: a switchboard per segment, each loaded until the ranges below are measured. The
  // first segment's board (the whole model) also hands out the float outputs and what the float
  // model made before each cut.
  const activationBoards: { segment: Segment; board: Switchboard; session: Runner }[] = [];
  const segments: Segment[] = [];
  // The weight groups' sessions loaded and not yet released.
  const open = new Set<Runner>();
  const measureActivations = (segment: Segment, board: Switchboard, session: Runner) => {
    activationBoards.push({ segment, board, session });
    segments.push(segment);
    for (const tensor of board.qparams.keys()) {
      const m = byTensor.get(tensor)!;
      queue.add(async () => {
        m.outputNoise = await noiseIn(segment, (feed, outs) =>
          session.run({ ...feed, ...switchFeeds(board, [tensor]) }, outs),
        );
        progress({ stage: 'measure', done: ++done, total: byTensor.size });
      });
    }
  };
  try {
    const first = buildSwitchboard(
      model,
      [],
      activationSwitches.filter((a) => segmentOf(a.tensor) === 0),
      cutNames,
    );
    const firstSession = await boardRunner(first.bytes);
    const firstRuns = Promise.all(
      feeds.map((feed) =>
        firstSession.run({ ...feed, ...switchFeeds(first, []) }, [...outputs, ...cutNames]),
      ),
    );
    measureActivations(
      { base: model, outputs, feed: (b) => ({ ...feeds[b]! }), reference: firstRuns },
      first,
      firstSession,
    );
    const cutData = await firstRuns;
    for (const out of cutData)
      outputs.forEach((o, k) => {
        signal[k]! += sumOfSquares(out[o]!);
      });
    for (let j = 1; j < starts.length; j++) {
      const tail = modelTail(model, starts[j]!, (name) => cutData[0]![name]!.dtype);
      const feed = (b: number): Record<string, Tensor> => ({
        ...Object.fromEntries(tail.inputs.map((name) => [name, feeds[b]![name]!])),
        ...Object.fromEntries(cuts[j]!.map((name) => [name, cutData[b]![name]!])),
      });
      const board = buildSwitchboard(
        tail.model,
        [],
        activationSwitches.filter((a) => segmentOf(a.tensor) === j),
      );
      const session = await boardRunner(board.bytes);
      const reference = Promise.all(
        feeds.map((_, b) => session.run({ ...feed(b), ...switchFeeds(board, []) }, tail.outputs)),
      );
      measureActivations({ base: tail.model, outputs: tail.outputs, feed, reference }, board, session);
    }
    await queue.idle();

    // The activations that cost the output most get every other 8-bit range (calibrator)
    // measured too, through the same switch: a calibrator predicted from its local noise was a
    // median 5 dB off, and a wrong calibrator is a loss that no latency buys back.
    const boardOf = new Map(activationBoards.flatMap((a) => [...a.board.qparams.keys()].map((t) => [t, a])));
    const ranked = measured
      .filter((m) => m.kind === 'activation' && boardOf.has(m.tensor))
      .sort((a, b) => sum(b.outputNoise) - sum(a.outputNoise))
      .slice(0, options.measuredRanges ?? MEASURED_RANGES);
    for (const m of ranked) {
      const { segment, board, session } = boardOf.get(m.tensor)!;
      const q = board.qparams.get(m.tensor)!;
      if (firstMethods.length < methods.length) {
        const all = activationCandidates(m.tensor, observers.get(m.tensor)!, activationSchemes, methods);
        m.options = all;
        m.labels = all.map((c) => c.label);
      }
      const options8 = m.options as readonly ActivationCandidate[];
      // Options with the same numbers share one measurement.
      const byNumbers = new Map<string, number[]>();
      for (let i = 0; i < options8.length; i++) {
        const o = options8[i]!;
        if (o.storage !== q.storage || o.scale === undefined || o.zeroPoint === undefined) continue;
        const numbers = `${o.scale} ${o.zeroPoint}`;
        if (o.scale === q.defaults.scale && o.zeroPoint === q.defaults.zeroPoint)
          m.direct.set(i, m.outputNoise);
        else byNumbers.set(numbers, [...(byNumbers.get(numbers) ?? []), i]);
      }
      for (const indices of byNumbers.values()) {
        const o = options8[indices[0]!]!;
        const range = new Map([[m.tensor, { scale: o.scale!, zeroPoint: o.zeroPoint! }]]);
        queue.add(async () => {
          progress({ stage: 'measure ranges', done: 0, total: 0 });
          const noise = await noiseIn(segment, (feed, outs) =>
            session.run({ ...feed, ...switchFeeds(board, [m.tensor], range) }, outs),
          );
          for (const i of indices) m.direct.set(i, noise);
        });
      }
    }
    // The weights' runs (below) join the queue behind these.
    measureWeights();
    await queue.idle();
  } finally {
    await queue.settled();
    for (const a of activationBoards) await a.session.release();
    for (const session of open) await session.release();
  }

  // Weights: a switched weight is no longer a constant to onnxruntime, which then runs its node
  // on slower generic kernels; so the weights are switched in small groups, one switchboard each,
  // and every other weight of a run stays a constant. The groups follow the weights' order in the
  // model, each measured on the tail of its first weight's segment. A group's board is made and
  // loaded when its first run is taken from the queue, and released after its last.
  function measureWeights(): void {
    const groupSize = options.weightGroup ?? WEIGHT_GROUP;
    const inOrder = [...weightTensors].sort((a, b) => readerOf.get(a)! - readerOf.get(b)!);
    for (let g = 0; g < inOrder.length; g += groupSize) {
      const members = inOrder.slice(g, g + groupSize).map((t) => byTensor.get(t)!);
      const segment = segments[segmentOf(inOrder[g]!)]!;
      let loading: Promise<{ board: Switchboard; session: Runner }> | undefined;
      const load = () => {
        loading ??= (async () => {
          const names = new Set(members.map((m) => m.tensor));
          const board = buildSwitchboard(
            segment.base,
            weightSwitches.filter((w) => names.has(w.tensor)),
            [],
          );
          const session = await boardRunner(board.bytes);
          open.add(session);
          return { board, session };
        })();
        return loading;
      };
      const runWith = async (keys: readonly string[]) => {
        const { board, session } = await load();
        return noiseIn(segment, (feed, outs) => session.run({ ...feed, ...switchFeeds(board, keys) }, outs));
      };
      // The group's finest options, measured in one run together.
      const group = members.filter((m) => m.grouped !== undefined);
      const together = group.length > 1;
      const runs: { keys: string[]; done(noise: number[]): void }[] = [];
      let groupNoise: number[] | undefined;
      if (together)
        runs.push({
          keys: group.map((m) => `${m.tensor}#${m.grouped}`),
          done: (noise) => {
            groupNoise = noise;
          },
        });
      for (const m of members) {
        const indices = m.options.map((_, i) => i).filter((i) => !together || i !== m.grouped);
        let left = indices.length;
        for (const i of indices)
          runs.push({
            keys: [`${m.tensor}#${i}`],
            done: (noise) => {
              m.direct.set(i, noise);
              if (--left === 0) progress({ stage: 'measure', done: ++done, total: byTensor.size });
            },
          });
      }
      let left = runs.length;
      for (const r of runs)
        queue.add(async () => {
          r.done(await runWith(r.keys));
          if (--left > 0) return;
          const { session } = await load();
          open.delete(session);
          await session.release();
          if (!groupNoise) return;
          const shares = shareGroupNoise(
            groupNoise,
            group.map((m) => ({
              alone: [...m.direct.keys()].map((i) => ({
                noise: m.direct.get(i)!,
                local: m.options[i]!.noise,
              })),
              local: m.options[m.grouped!]!.noise,
            })),
          );
          group.forEach((m, k) => {
            m.direct.set(m.grouped!, shares[k]!);
            inGroup.add(`${m.tensor}#${m.grouped}`);
          });
        });
    }
  }
  for (const m of measured)
    if (m.outputNoise.length === 0) m.outputNoise = new Array<number>(outputs.length).fill(0);

  // The options as the search sees them; set once latency is measured (step 4). Plans built
  // before that (the reference models) carry no per-candidate measurements.
  let choices: Choice[] | undefined;
  // The budget the search aims at: the user's, raised by any miss the built model measured.
  let aim: Budget = budget;

  // 3. Models built from a choice of options, measured against the float outputs. Latency is
  // timed on the first held-back batch, one thread per session, the models' runs interleaved so
  // that other load on the machine slows them alike; the median counts.
  const floatBytes = serializeModel(model);
  // The float model every latency is a share of: the model as the user has it when given (the
  // prepared copy can run faster, and the cap is a promise about the user's model).
  const baselineBytes = options.floatModel ?? floatBytes;
  const timeRuns = options.latencyRuns ?? 5;
  const latencyRunner = options.latencyRunner ?? options.runner;
  // The float model's session is made once and kept for every timing. It is timed beside every
  // model timed, and its latency is the median of all its timings in the run so far.
  let baseline: Runner | undefined;
  const floatTimes: number[] = [];
  // Each model's latency, median of the timed runs, the runs of all models interleaved. The
  // models other than the float one are first run on every held-back batch (their warm-up), and
  // `noise` holds what those runs measured against the float outputs.
  const latencies = async (models: readonly Uint8Array[], noise: number[][] = []): Promise<number[]> => {
    const sessions: Runner[] = [];
    try {
      for (const bytes of models) {
        if (bytes !== baselineBytes) sessions.push(await latencyRunner(bytes));
        else if (baseline) sessions.push(baseline);
        else {
          baseline = await latencyRunner(bytes);
          sessions.push(baseline);
          await baseline.run(feeds[0]!, outputs);
        }
      }
      for (const [k, r] of sessions.entries()) {
        if (r !== baseline) noise[k] = await noiseIn(segments[0]!, (feed, outs) => r.run(feed, outs));
      }
      const times = models.map(() => [] as number[]);
      // Once the float model has its full count of timings, it is timed every FLOAT_EVERY-th
      // iteration only, still between the others' runs to follow the machine's load.
      const floatTimed = floatTimes.length >= timeRuns;
      for (let i = 0; i < timeRuns; i++) {
        for (let k = 0; k < sessions.length; k++) {
          const isFloat = sessions[k] === baseline;
          if (isFloat && floatTimed && i % FLOAT_EVERY !== 0) continue;
          const t = performance.now();
          await sessions[k]!.run(feeds[0]!, outputs);
          (isFloat ? floatTimes : times[k]!).push(performance.now() - t);
        }
      }
      return sessions.map((r, k) => median(r === baseline ? floatTimes : times[k]!));
    } finally {
      for (const r of sessions) if (r !== baseline) await r.release();
    }
  };
  const build = async (picks: readonly number[]): Promise<{ bytes: Uint8Array; doc: PlanDocument }> => {
    const doc = planDocument(picks);
    const copy = parseModel(floatBytes, { source: model.source });
    await quantize(copy, { mode: 'static', backend, ...planOptions(doc) });
    return { bytes: serializeModel(copy), doc };
  };
  type Built = Omit<ModelMeasurement, 'latencyMs'> & { doc: PlanDocument; model: Uint8Array };
  const measurementOf = (bytes: Uint8Array, doc: PlanDocument, noise: readonly number[]): Built => {
    const outputSqnrDb = Object.fromEntries(outputs.map((o, k) => [o, sqnrFromSums(signal[k]!, noise[k]!)]));
    return { outputSqnrDb, worstSqnrDb: worstSqnrDb(signal, noise), bytes: bytes.length, doc, model: bytes };
  };
  /** Builds the model of `picks` and measures its accuracy on the held-back batches. */
  const measure = async (picks: readonly number[]): Promise<Built> => {
    const { bytes, doc } = await build(picks);
    const r = await options.runner(bytes);
    try {
      return measurementOf(bytes, doc, await noiseIn(segments[0]!, (feed, outs) => r.run(feed, outs)));
    } finally {
      await r.release();
    }
  };
  /**
   * Builds the models of `pickSets`, measures their accuracy and times them beside the float
   * model, in one session each: the float model's latency and each model's measurement.
   */
  const measureTimed = async (
    pickSets: readonly (readonly number[])[],
  ): Promise<{ floatMs: number; models: (Built & { latencyMs: number })[] }> => {
    const builts = [];
    for (const picks of pickSets) builts.push(await build(picks));
    const noise: number[][] = [];
    const [floatMs, ...ms] = await latencies([baselineBytes, ...builts.map((b) => b.bytes)], noise);
    return {
      floatMs: floatMs!,
      models: builts.map((b, k) => ({ ...measurementOf(b.bytes, b.doc, noise[k + 1]!), latencyMs: ms[k]! })),
    };
  };

  // Picks that put every tensor on one kind of option, for the reference models: the weights on
  // `weightScheme`, the activations on `activationScheme` with their least-noise calibrator. A
  // tensor without such an option keeps its first.
  const uniform = (weightScheme: string, activationScheme: string): number[] =>
    measured.map((m) => {
      const want = m.kind === 'weight' ? weightScheme : activationScheme;
      const same = m.options.filter((o) => o.scheme === want);
      const pick = m.kind === 'weight' ? same[0] : referenceOption(same as ActivationCandidate[]);
      return Math.max(pick ? m.options.indexOf(pick) : 0, 0);
    });
  const cheapestWeight = commonScheme(measured, true) ?? formatQuantSpec(weightSpecs[0]!);
  // One reference model per activation candidate, weights on the cheapest scheme: what each
  // precision costs in time when every activation takes it (float: the weights still dequantized
  // at run time, as they are beside a float activation in a mixed plan).
  const references: Record<string, ModelMeasurement> = {};
  // Reference points of the frontier: every weight on the largest candidate, activations 8-bit.
  const largestWeight = commonScheme(measured, false);
  const withLargest = Boolean(largestWeight && largestWeight !== cheapestWeight && firstScheme);
  progress({ stage: 'reference models', done: 0, total: 0 });
  const timedReferences = await measureTimed([
    ...activationSchemes.map((scheme) => uniform(cheapestWeight, scheme)),
    ...(withLargest ? [uniform(largestWeight!, firstScheme!)] : []),
  ]);
  const floatLatency = timedReferences.floatMs;
  if (withLargest)
    references[labelOf(largestWeight!, firstScheme!)] = strip(
      timedReferences.models[activationSchemes.length]!,
    );
  const latencyBy = new Map<string, number>();
  activationSchemes.forEach((scheme, k) => {
    const m = timedReferences.models[k]!;
    latencyBy.set(scheme, m.latencyMs);
    if (scheme === firstScheme) references[labelOf(cheapestWeight, scheme)] = strip(m);
  });
  const fastest = Math.min(...latencyBy.values());
  // Latency groups over the measured tensors. A node that needs a tensor with no options (it
  // stays float) is slow in every plan, so it is no group: no choice changes its cost.
  const indexOf = new Map(measured.map((m, t) => [m.tensor, t]));
  // The shares are renormalised over the rest: the always-slow nodes are slow in the all-8-bit
  // reference too, so they are not in the gap.
  const grouped = macGroups(model, plan, observers).filter((g) => g.tensors.every((x) => indexOf.has(x)));
  const groupedShare = grouped.reduce((sum, g) => sum + g.share, 0);
  const groupedWeights = grouped.reduce((sum, g) => sum + g.weightShare, 0);
  const nodes = grouped.map((g) => ({
    ...g,
    share: groupedShare > 0 ? g.share / groupedShare : 0,
    weightShare: groupedWeights > 0 ? g.weightShare / groupedWeights : 0,
  }));
  // What a tensor pays beyond its nodes: its share of the extra time a slower precision than the
  // cheapest slow one opens (int16 over float), split between each node's tensors.
  const tensorShare = new Map<string, number>();
  for (const g of nodes)
    for (const x of g.tensors) tensorShare.set(x, (tensorShare.get(x) ?? 0) + g.share / g.tensors.length);
  const gapOf = (scheme: string) => Math.max(0, (latencyBy.get(scheme) ?? fastest) - fastest);
  const slowGaps = [...latencyBy.keys()].map(gapOf).filter((g) => g > 0);
  const slowGap = slowGaps.length > 0 ? Math.min(...slowGaps) : 0;
  // A slow node costs two things: its multiply-accumulates in float rather than on the integer
  // kernel (the float model's gap to the all-8-bit one, shared by MACs), and its weight
  // dequantized at every run (the rest of the gap, shared by weight elements: onnxruntime keeps
  // DequantizeLinear nodes rather than folding them, so a node left float reads its weight back
  // through one).
  const macGap = Math.min(Math.max(0, floatLatency - fastest), slowGap);
  const dequantizeGap = slowGap - macGap;

  // 4. Choose, build, measure; aim higher by any miss.
  // An activation off 8 bits makes the nodes that need it slow: each node costs its share of the
  // gap between the all-8-bit model and the cheapest slower one, and a precision slower still
  // adds its own extra. The built models are timed, and the cap is held by measurement (step 4).
  const groups: LatencyGroup[] = nodes.map((g) => ({
    members: g.tensors.map((x) => indexOf.get(x)!),
    latencyMs: macGap * g.share + dequantizeGap * g.weightShare,
  }));
  choices = measured.map((m) => ({
    tensor: m.tensor,
    options: m.options.map((o, i) => {
      const scale = m.referenceNoise > 0 ? o.noise / m.referenceNoise : 0;
      const direct = m.direct.get(i);
      const isWeight = m.kind === 'weight';
      const scheme = isWeight ? (o as WeightCandidate).scheme : (o as ActivationCandidate).scheme;
      const slow = !isWeight && gapOf(scheme) > 0;
      return {
        label: m.labels[i]!,
        noise: direct ?? m.outputNoise.map((n) => n * scale),
        bytes: isWeight ? (o as WeightCandidate).bytes : 0,
        latencyMs: slow ? (gapOf(scheme) - slowGap) * (tensorShare.get(m.tensor) ?? 0) : 0,
        ...(slow ? { slow } : {}),
      };
    }),
  }));
  const weightBytes = choices.reduce((sum, c) => sum + Math.min(...c.options.map((o) => o.bytes)), 0);
  const scale = { bytes: Math.max(weightBytes, 1), latencyMs: floatLatency };

  function planDocument(picks: readonly number[]): PlanDocument {
    const weights: Record<string, PlanDocument['weights'][string]> = {};
    const activations: Record<string, PlanDocument['activations'][string]> = {};
    const byTensor = new Map(measured.map((m, t) => [m.tensor, t]));
    for (const w of plan.weights) {
      const t = byTensor.get(w.initializer);
      const scheme =
        t === undefined
          ? fixedWeights.get(w.initializer)!
          : (measured[t]!.options[picks[t]!] as WeightCandidate).scheme;
      weights[w.initializer] = {
        scheme,
        nodes: w.nodes,
        op: w.role.op,
        depthwise: w.role.depthwise,
        candidates: t === undefined ? [] : planCandidates(t),
        reason: t === undefined ? 'not measured' : reasonFor(t, picks),
      };
    }
    for (const a of plan.activations) {
      const t = byTensor.get(a.tensor);
      if (t === undefined) {
        activations[a.tensor] = {
          scheme: FLOAT,
          for: a.for,
          candidates: [],
          reason: 'not observed by calibration',
        };
        continue;
      }
      const o = measured[t]!.options[picks[t]!] as ActivationCandidate;
      activations[a.tensor] = {
        scheme: o.scheme,
        ...(o.method ? { method: o.method } : {}),
        ...(o.range ? { range: o.range } : {}),
        for: a.for,
        candidates: planCandidates(t),
        reason: reasonFor(t, picks),
      };
    }
    return {
      format: PLAN_FORMAT,
      model_sha256: options.model.sha256,
      model: options.model.name,
      budget:
        budget.targetSqnrDb !== undefined
          ? { target_sqnr_db: budget.targetSqnrDb }
          : { max_size_bytes: budget.maxBytes! },
      exclude: options.exclude ?? [],
      weights,
      activations,
      predicted: { output_sqnr_db: 0, bytes: 0 },
    };
  }
  function planCandidates(t: number): PlanCandidate[] {
    if (!choices) return [];
    const m = measured[t]!;
    const c = choices[t]!;
    return c.options.map((o, i) => {
      const option = m.options[i]!;
      return {
        candidate: o.label,
        output_sqnr_db: finiteOrNull(worstSqnrDb(signal, o.noise)),
        local_sqnr_db:
          m.kind === 'weight'
            ? finiteOrNull(sqnrFromSums((option as WeightCandidate).signal, option.noise))
            : null,
        bytes: o.bytes,
        latency_ms: Math.round(o.latencyMs * 1000) / 1000,
        ...(o.label === FLOAT
          ? {}
          : {
              measured: inGroup.has(`${m.tensor}#${i}`) ? 'group' : m.direct.has(i) ? 'alone' : 'predicted',
            }),
        ...(m.kind === 'activation' && (option as ActivationCandidate).range
          ? { range: (option as ActivationCandidate).range! }
          : {}),
      };
    });
  }
  /**
   * Why tensor `t` takes option `picks[t]`: the cheapest option (the one the search starts from)
   * fits, or putting the tensor back on it, with every other tensor as the plan has it, would
   * bring the predicted output SQNR under the target (or, alone, already does).
   */
  function reasonFor(t: number, picks: readonly number[]): string {
    if (!choices) return 'reference model';
    const c = choices[t]!;
    const chosen = c.options[picks[t]!]!;
    const price = (o: (typeof c.options)[number]) =>
      o.bytes / scale.bytes + standaloneLatency(o, t, groups) / scale.latencyMs;
    const start = c.options.reduce((a, b) =>
      price(b) < price(a) || (price(b) === price(a) && sum(b.noise) < sum(a.noise)) ? b : a,
    );
    if (price(chosen) <= price(start)) return 'cheapest option; fits the budget';
    const total = new Array<number>(signal.length).fill(0);
    choices.forEach((choice, k) => {
      choice.options[picks[k]!]!.noise.forEach((n, o) => {
        total[o]! += n;
      });
    });
    const inContext = worstSqnrDb(
      signal,
      total.map((n, o) => n - chosen.noise[o]! + start.noise[o]!),
    );
    const alone = worstSqnrDb(signal, start.noise);
    // After a measured round the search may aim above or below the target; the reason names what it aimed at.
    const target = aim.targetSqnrDb === undefined ? undefined : Math.round(aim.targetSqnrDb * 100) / 100;
    // Rounded down: a value shown as under the aim is under it.
    const fmt = (v: number) => (Number.isFinite(v) ? (Math.floor(v * 100) / 100).toFixed(2) : 'inf');
    const goal =
      target === budget.targetSqnrDb
        ? `${target} dB target`
        : `${target} dB aimed at (the target moved by what the built model measured)`;
    if (target === undefined)
      return `${start.label} here would take the output to ${fmt(inContext)} dB; the size cap leaves room for ${chosen.label}`;
    if (alone < target)
      return `${start.label} alone would take the output to ${fmt(alone)} dB, under the ${goal}`;
    return `${start.label} here, with the rest as planned, would take the output to ${fmt(inContext)} dB, under the ${goal} (alone ${fmt(alone)} dB)`;
  }

  const rounds: { targetDb: number; predictedDb: number; measuredDb: number; latencyRatio?: number }[] = [];
  if (options.maxLatencyRatio !== undefined) {
    const maxLatencyMs = Math.max(0, options.maxLatencyRatio * floatLatency - fastest);
    aim =
      budget.maxBytes !== undefined
        ? { maxBytes: budget.maxBytes, maxLatencyMs }
        : { targetSqnrDb: budget.targetSqnrDb, maxLatencyMs };
  }
  let decision = choose(choices, signal, aim, scale, groups);
  const maxRounds = options.rounds ?? 3;
  // Every built model, so that a later round that measured worse does not replace a better one.
  const tried: {
    decision: Decision;
    advised: Built;
    ratio: number;
    /** The float model's and this model's median latency, timed together (ms). */
    timing?: [number, number];
  }[] = [];
  /** Builds and measures the model of `d` (with a latency cap, timed beside the float model). */
  const record = async (d: Decision): Promise<{ ratio: number; m: Built }> => {
    progress({ stage: `verify round ${rounds.length + 1}`, done: rounds.length, total: 0 });
    let ratio = Number.NaN;
    let timing: [number, number] | undefined;
    let m: Built;
    if (options.maxLatencyRatio !== undefined) {
      const timed = await measureTimed([d.picks]);
      const { latencyMs, ...built } = timed.models[0]!;
      m = built;
      ratio = latencyMs / timed.floatMs;
      timing = [timed.floatMs, latencyMs];
    } else m = await measure(d.picks);
    tried.push({ decision: d, advised: m, ratio, ...(timing ? { timing } : {}) });
    rounds.push({
      targetDb: aim.targetSqnrDb ?? Number.NaN,
      predictedDb: d.sqnrDb,
      measuredDb: m.worstSqnrDb,
      ...(Number.isNaN(ratio) ? {} : { latencyRatio: ratio }),
    });
    return { ratio, m };
  };
  let advised: Built;
  for (;;) {
    const recorded = await record(decision);
    const ratio = recorded.ratio;
    advised = recorded.m;
    const sqnrMiss =
      budget.targetSqnrDb !== undefined && advised.worstSqnrDb < budget.targetSqnrDb
        ? budget.targetSqnrDb - advised.worstSqnrDb
        : 0;
    const slow = options.maxLatencyRatio !== undefined && ratio > options.maxLatencyRatio;
    if (slow) {
      // Latency predicted from shares misses what a mixed model adds (Q/DQ pairs left unfused
      // where integer and float nodes meet), so the cap is met by measurement: the upgrades are
      // taken in the search's order, and the longest run of them whose model times within the
      // cap is searched for. Each step scales the predicted latency along the search's path by
      // what the slowest model that missed the cap measured over its prediction, and tries the
      // longest run that this puts within the cap.
      const cap = options.maxLatencyRatio!;
      const capExtra = cap * floatLatency - fastest;
      const predictedExtra = (count: number) => decision.path[count]!.latencyMs;
      let lo = { count: 0, ratio: fastest / floatLatency };
      let hi = { count: decision.upgrades.length, ratio };
      for (let step = 0; step < maxRounds && hi.count - lo.count > 1; step++) {
        const measuredExtra = hi.ratio * floatLatency - fastest;
        const predicted = predictedExtra(hi.count);
        const correction = predicted > 0 ? measuredExtra / predicted : 1;
        let count = lo.count + 1;
        for (let k = hi.count - 1; k > lo.count; k--)
          if (predictedExtra(k) * correction <= capExtra) {
            count = k;
            break;
          }
        const d = firstUpgrades(decision, count, choices, signal, aim, groups);
        const r = (await record(d)).ratio;
        if (r > cap) hi = { count, ratio: r };
        else lo = { count, ratio: r };
      }
      break;
    }
    if (rounds.length >= maxRounds || budget.targetSqnrDb === undefined) break;
    const surplus = advised.worstSqnrDb - budget.targetSqnrDb;
    if (sqnrMiss > 0) {
      // A target out of reach stays out of reach when aimed higher.
      if (!decision.met) break;
      aim = { ...aim, targetSqnrDb: aim.targetSqnrDb! + sqnrMiss + 0.25 } as Budget;
    } else if (
      surplus > SURPLUS_DB &&
      Number.isFinite(advised.worstSqnrDb) &&
      Number.isFinite(decision.sqnrDb)
    ) {
      // The built model beat the target by more than the prediction said it would: the noises
      // added up to more than the model makes (they overlap). Aim lower by what the prediction
      // fell short, for a cheaper model that still meets the target.
      const shortfall = advised.worstSqnrDb - decision.sqnrDb;
      if (shortfall <= 0) break;
      aim = { ...aim, targetSqnrDb: budget.targetSqnrDb - shortfall + 0.25 } as Budget;
    } else break;
    const next = choose(choices, signal, aim, scale, groups);
    if (next.picks.every((p, t) => p === decision.picks[t])) break;
    // Aimed lower, a choice that costs no less is no use.
    if (sqnrMiss === 0 && next.bytes >= decision.bytes && next.latencyMs >= decision.latencyMs) break;
    decision = next;
  }
  const kept = keptRound(tried, budget, options.maxLatencyRatio);
  ({ decision, advised } = tried[kept]!);
  if (kept !== tried.length - 1)
    notes.push(
      `round ${kept + 1} of ${tried.length} is kept: ${options.maxLatencyRatio !== undefined ? `${tried[kept]!.ratio.toFixed(2)}x float's latency, ` : ''}${advised.worstSqnrDb.toFixed(1)} dB, the best of the models built`,
    );
  const keptRatio = tried[kept]!.ratio;
  if (options.maxLatencyRatio !== undefined && keptRatio > options.maxLatencyRatio)
    notes.push(
      `the advised model ran at ${keptRatio.toFixed(2)}x the float model's latency, over the ${options.maxLatencyRatio}x cap, after ${rounds.length} rounds; lower the target or allow more latency`,
    );
  if (budget.targetSqnrDb !== undefined && advised.worstSqnrDb < budget.targetSqnrDb)
    notes.push(
      `the advised model measured ${advised.worstSqnrDb.toFixed(1)} dB, under the ${budget.targetSqnrDb} dB target: ${decision.met ? 'the prediction was too hopeful' : 'no combination of these candidates reaches it'}; add candidates (int16, float) or lower the target`,
    );

  // The advised model's latency beside the float model's, same run: its round's timing under a
  // latency cap, else timed now.
  let [floatLatencyNow, advisedLatency] = tried[kept]!.timing ?? [];
  if (floatLatencyNow === undefined || advisedLatency === undefined) {
    progress({ stage: 'time advised', done: 0, total: 0 });
    [floatLatencyNow, advisedLatency] = await latencies([baselineBytes, advised.model]);
  }
  await baseline?.release();
  const advisedMeasurement: ModelMeasurement = { ...strip(advised), latencyMs: advisedLatency! };

  const document: PlanDocument = {
    ...advised.doc,
    predicted: { output_sqnr_db: Math.round(decision.sqnrDb * 100) / 100, bytes: decision.bytes },
    measured: {
      output_sqnr_db: Object.fromEntries(
        Object.entries(advised.outputSqnrDb).map(([k, v]) => [k, finiteOrNull(v)]),
      ),
      bytes: advised.bytes,
      latency_ms: Math.round(advisedLatency! * 100) / 100,
      float_latency_ms: Math.round(floatLatencyNow! * 100) / 100,
    },
    ...(options.data
      ? {
          data: {
            description: options.data.description,
            calibration_batches: options.data.calibrationBatches,
            holdout_batches: options.data.holdoutBatches,
          },
        }
      : {}),
  };

  progress({ stage: 'report', done: 0, total: 0 });
  const reportOut = reportData({
    model,
    plan,
    document,
    measured,
    choices,
    decision,
    signal,
    observers,
    references,
    advised: advisedMeasurement,
    floatLatency: floatLatencyNow!,
    floatBytes: baselineBytes.length,
    cheapestWeight,
    largestWeight,
    notes,
  });
  endStage();
  return {
    plan: document,
    report: reportOut,
    advised: advisedMeasurement,
    float: { latencyMs: floatLatencyNow!, bytes: baselineBytes.length },
    references,
    decision,
    rounds,
    notes,
    stages,
  };
}

/**
 * Shares the output noise a group of weights made together (one option each, all switched on in
 * one run) out among them. Each member's share follows its predicted noise: the option's own
 * noise times the gain its options measured alone showed (output noise over own noise), per model
 * output; the shares add up to the group's noise. Where no member has a prediction for an output,
 * that output's noise is shared by own noise, else evenly.
 */
export function shareGroupNoise(
  total: readonly number[],
  members: readonly {
    /** The member's options measured alone: output noise per model output, and own noise. */
    readonly alone: readonly { readonly noise: readonly number[]; readonly local: number }[];
    /** The grouped option's own noise. */
    readonly local: number;
  }[],
): number[][] {
  const predicted = members.map((m) => {
    const local = m.alone.reduce((sum, a) => sum + a.local, 0);
    return total.map((_, k) =>
      local > 0 ? (m.alone.reduce((sum, a) => sum + (a.noise[k] ?? 0), 0) / local) * m.local : 0,
    );
  });
  return members.map((m, j) =>
    total.map((t, k) => {
      const all = predicted.reduce((sum, p) => sum + p[k]!, 0);
      if (all > 0) return (t * predicted[j]![k]!) / all;
      const locals = members.reduce((sum, x) => sum + x.local, 0);
      return locals > 0 ? (t * m.local) / locals : t / members.length;
    }),
  );
}

/**
 * Which built model to keep: of those within the latency cap (all, without one), one that meets
 * the budget at the least cost, else the one with the best output SQNR; when none is within the
 * cap, the fastest.
 */
function keptRound(
  tried: readonly {
    readonly decision: Decision;
    readonly advised: { readonly worstSqnrDb: number; readonly bytes: number };
    readonly ratio: number;
  }[],
  budget: Budget,
  maxLatencyRatio: number | undefined,
): number {
  const indices = tried.map((_, i) => i);
  const inCap = indices.filter((i) => maxLatencyRatio === undefined || tried[i]!.ratio <= maxLatencyRatio);
  if (inCap.length === 0)
    return indices.reduce((best, i) => (tried[i]!.ratio < tried[best]!.ratio ? i : best));
  const meets = (i: number) =>
    budget.targetSqnrDb !== undefined
      ? tried[i]!.advised.worstSqnrDb >= budget.targetSqnrDb
      : tried[i]!.advised.bytes <= budget.maxBytes!;
  const meeting = inCap.filter(meets);
  const best = (among: number[]) =>
    among.reduce((b, i) => (tried[i]!.advised.worstSqnrDb > tried[b]!.advised.worstSqnrDb ? i : b));
  // Under a size cap every fitting model meets the budget: the most accurate one is kept.
  if (meeting.length > 0 && budget.targetSqnrDb === undefined) return best(meeting);
  if (meeting.length > 0)
    return meeting.reduce((best, i) => {
      const a = tried[i]!;
      const b = tried[best]!;
      const cheaper =
        a.advised.bytes < b.advised.bytes || (a.advised.bytes === b.advised.bytes && a.ratio < b.ratio);
      return cheaper ? i : best;
    });
  return best(inCap);
}

/**
 * Of an activation's options on one precision, the one the advisor measures first and builds its
 * reference models with: quantize's default calibrator, or the least local noise without it.
 */
function referenceOption(options: readonly ActivationCandidate[]): ActivationCandidate | undefined {
  return (
    options.find((o) => o.method === DEFAULT_CALIBRATION_METHOD) ??
    options.reduce<ActivationCandidate | undefined>(
      (best, c) => (!best || c.noise < best.noise ? c : best),
      undefined,
    )
  );
}

function strip<T extends { doc?: PlanDocument; model?: Uint8Array }>(m: T): Omit<T, 'doc' | 'model'> {
  const { doc: _doc, model: _model, ...rest } = m;
  return rest;
}

function labelOf(weights: string, activations: string): string {
  return `weights ${weights}, activations ${activations}`;
}

/**
 * The weight scheme that is the smallest (`smallest`) or the largest option on most weights;
 * undefined when no weight was measured.
 */
function commonScheme(measured: readonly Measured[], smallest: boolean): string | undefined {
  const votes = new Map<string, number>();
  for (const m of measured) {
    if (m.kind !== 'weight') continue;
    const pick = (m.options as WeightCandidate[]).reduce((a, b) =>
      (smallest ? b.bytes < a.bytes : b.bytes > a.bytes) ? b : a,
    );
    votes.set(pick.scheme, (votes.get(pick.scheme) ?? 0) + 1);
  }
  return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * The model's quantized nodes as latency groups: each node's share of the quantized
 * multiply-accumulates (its output elements, from calibration, times its weight's elements per
 * output channel) and the activations its integer kernel needs. onnxruntime fuses a node into an
 * integer kernel only when all of them are 8-bit, so the node's share is lost when any one is not.
 */
function macGroups(
  model: Model,
  plan: Plan,
  observers: ReadonlyMap<string, Observer>,
): { readonly tensors: readonly string[]; readonly share: number; readonly weightShare: number }[] {
  const weightOf = new Map<string, Plan['weights'][number]>();
  for (const w of plan.weights) for (const n of w.nodes) weightOf.set(n, w);
  const needs = new Map<string, string[]>();
  for (const a of plan.activations) for (const n of a.for) needs.set(n, [...(needs.get(n) ?? []), a.tensor]);
  const elementsOf = (tensor: string): number => {
    const o = observers.get(tensor);
    if (!(o instanceof HistogramObserver) || o.batches === 0) return 0;
    const counts = o.histogramSnapshot().counts;
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i]!;
    return total / o.batches;
  };
  const groups: { tensors: string[]; macs: number; weights: number }[] = [];
  for (const [node, tensors] of needs) {
    const w = weightOf.get(node);
    if (!w) continue;
    const init = model.graph.initializer(w.initializer);
    const dims = init?.dims ?? [];
    const elements = dims.reduce((a, b) => a * b, 1);
    const channels = dims[w.role.channelAxis] ?? 1;
    const input = model.graph.nodes.find((n) => n.name === node)?.input[0];
    const outputTensor = tensors.find((t) => t !== input);
    const outElements = outputTensor ? elementsOf(outputTensor) : 0;
    groups.push({
      tensors,
      macs: (outElements > 0 ? outElements : channels) * (elements / Math.max(channels, 1)),
      weights: elements,
    });
  }
  const all = groups.reduce((sum, g) => sum + g.macs, 0);
  const allWeights = groups.reduce((sum, g) => sum + g.weights, 0);
  return groups.map((g) => ({
    tensors: g.tensors,
    share: all > 0 ? g.macs / all : 0,
    weightShare: allWeights > 0 ? g.weights / allWeights : 0,
  }));
}

/** The HTML report's data for an advice. */
function reportData(args: {
  model: Model;
  plan: Plan;
  document: PlanDocument;
  measured: readonly Measured[];
  choices: readonly Choice[];
  decision: Decision;
  signal: readonly number[];
  observers: ReadonlyMap<string, Observer>;
  references: Readonly<Record<string, ModelMeasurement>>;
  advised: ModelMeasurement;
  floatLatency: number;
  floatBytes: number;
  cheapestWeight: string;
  largestWeight: string | undefined;
  notes: readonly string[];
}): HtmlReportData {
  const { document, measured, choices, decision, signal } = args;
  const layers: LayerRow[] = measured.map((m, t) => {
    const entry = m.kind === 'weight' ? document.weights[m.tensor]! : document.activations[m.tensor]!;
    const w = m.kind === 'weight' ? document.weights[m.tensor] : undefined;
    return {
      tensor: m.tensor,
      kind: m.kind,
      nodes: w ? w.nodes : document.activations[m.tensor]!.for,
      op: w ? w.op : '',
      ...(w ? { depthwise: w.depthwise } : {}),
      chosen: choices[t]!.options[decision.picks[t]!]!.label,
      candidates: choices[t]!.options.map((o, i) => ({
        candidate: o.label,
        outputSqnrDb: worstSqnrDb(signal, o.noise),
        ...(m.kind === 'weight'
          ? {
              localSqnrDb: sqnrFromSums((m.options[i] as WeightCandidate).signal, m.options[i]!.noise),
              bytes: o.bytes,
            }
          : {}),
        ...(i === decision.picks[t] ? { chosen: true } : {}),
      })),
      reason: entry.reason,
    };
  });
  const channelRanges: ChannelRanges[] = [];
  for (const w of args.plan.weights) {
    const init = w.graph === 'main' ? args.model.graph.initializer(w.initializer) : undefined;
    if (init?.dtype !== 'float32') continue;
    channelRanges.push(
      weightChannelRanges(w.initializer, w.nodes[0]!, w.role, init.toTensor().toFloat32(), init.dims),
    );
  }
  const histograms: ActivationHistogram[] = [];
  for (const [tensor, entry] of Object.entries(document.activations)) {
    const o = args.observers.get(tensor);
    if (!o) continue;
    const observed = o.range();
    const range = entry.range ?? { min: observed.min[0]!, max: observed.max[0]! };
    const h = activationHistogram(tensor, o, range, entry.method ?? entry.scheme);
    if (h) histograms.push(h);
  }
  const frontier: FrontierPoint[] = decision.path.map((p, i) => ({
    label: `search step ${i}`,
    bytes: p.bytes,
    outputSqnrDb: p.sqnrDb,
    source: 'predicted' as const,
  }));
  for (const [label, m] of Object.entries(args.references)) {
    const highlight = label.startsWith(`weights ${args.cheapestWeight}`)
      ? ('all-per-tensor' as const)
      : ('all-per-channel' as const);
    frontier.push({ label, bytes: m.bytes, outputSqnrDb: m.worstSqnrDb, source: 'measured', highlight });
  }
  frontier.push({
    label: 'advised',
    bytes: args.advised.bytes,
    outputSqnrDb: args.advised.worstSqnrDb,
    source: 'measured',
    highlight: 'advised',
  });
  const budget = document.budget;
  const target = budget.target_sqnr_db;
  return {
    title: `qgrain advise: ${document.model}`,
    summary: [
      `model ${document.model} (SHA-256 ${document.model_sha256.slice(0, 16)}...)`,
      target !== undefined
        ? `budget: output SQNR >= ${target} dB on held-back data`
        : `budget: size <= ${budget.max_size_bytes} bytes`,
      ...(document.data
        ? [
            `data: ${document.data.description}; ${document.data.calibration_batches} batches calibrate, ${document.data.holdout_batches} held back to measure`,
          ]
        : []),
    ],
    figures: [
      { label: 'output SQNR (measured)', value: `${args.advised.worstSqnrDb.toFixed(1)} dB` },
      { label: 'output SQNR (predicted)', value: `${decision.sqnrDb.toFixed(1)} dB` },
      {
        label: 'size',
        value: `${args.advised.bytes} bytes (${((args.advised.bytes / args.floatBytes) * 100).toFixed(1)}% of float)`,
      },
      {
        label: 'latency',
        value: `${args.advised.latencyMs.toFixed(1)} ms (${(args.advised.latencyMs / args.floatLatency).toFixed(2)}x float's ${args.floatLatency.toFixed(1)} ms)`,
      },
    ],
    ...(target !== undefined ? { targetSqnrDb: target } : {}),
    layers,
    channelRanges,
    histograms,
    frontier,
    warnings: [...args.notes],
  };
}
