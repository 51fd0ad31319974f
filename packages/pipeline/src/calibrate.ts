import { type Model, type ValueInfoProto, makeValueInfo, serializeModel } from '@qgrain/onnx';
import { type CreateObserverOptions, type Observer, createObserver } from '@qgrain/observers';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import type { RunnerFactory } from './runner.js';

/** A re-readable stream of model feeds: calibration may pass over the data more than once. */
export type FeedSource = () => AsyncIterable<Readonly<Record<string, Tensor>>>;

/** Default memory for the activations fetched from one run: above it, calibration takes several passes. */
export const DEFAULT_CALIBRATION_BUDGET_BYTES = 1024 * 1024 * 1024;

/** Options of `calibrateActivations`. */
export interface CalibrateOptions {
  /** Calibration method text (`minmax`, `percentile:99.99`, `entropy`, `mse`, ...) or one per tensor. */
  readonly method: string | ((tensor: string) => string);
  readonly runner: RunnerFactory;
  /** Bytes of fetched activations one run may hold; more tensors are split into passes. */
  readonly budgetBytes?: number;
  /** Options for every observer (backend, bins, ...). */
  readonly observer?: Omit<CreateObserverOptions, 'name'>;
  /** Called after each batch of each pass. */
  readonly onProgress?: (event: { pass: number; passes: number; batch: number }) => void;
}

/** What calibration measured. */
export interface CalibrationResult {
  /** One observer per activation tensor, fed with every batch. */
  readonly observers: Map<string, Observer>;
  readonly batches: number;
  readonly passes: number;
  /** Tensors that could not be observed (inside subgraphs), with why. */
  readonly skipped: ReadonlyArray<{ tensor: string; reason: string }>;
}

/**
 * The bytes of `model` with `tensors` added to its graph outputs, so one run fetches them. The
 * model itself is left as it was.
 */
export function exposeTensors(model: Model, tensors: readonly string[]): Uint8Array {
  const graph = model.proto.graph!;
  const saved = graph.output;
  const existing = new Set(saved.map((v) => v.name));
  graph.output = [...saved, ...tensors.filter((t) => !existing.has(t)).map(floatOutput)];
  try {
    return serializeModel(model);
  } finally {
    graph.output = saved;
  }
}

// Only float activations are calibrated; their shapes may depend on the batch, so none is declared.
function floatOutput(name: string): ValueInfoProto {
  const info = makeValueInfo({ name, dtype: 'float32', shape: [] });
  delete (info.type!.tensorType as { shape?: unknown }).shape;
  return info;
}

/**
 * Runs the float model over the calibration feeds and streams every requested activation into its
 * observer. Memory does not grow with the number of batches: each batch's activations are folded
 * into the observers and dropped. When the activations of one run would exceed the budget, the
 * tensors are split into groups and the data is read once per group.
 */
export async function calibrateActivations(
  model: Model,
  tensors: readonly string[],
  feeds: FeedSource,
  options: CalibrateOptions,
): Promise<CalibrationResult> {
  const methodOf = typeof options.method === 'string' ? () => options.method as string : options.method;
  const topLevel = new Set<string>([
    ...model.graph.inputNames(),
    ...model.graph.nodes.flatMap((n) => n.output),
  ]);
  const skipped = tensors
    .filter((t) => !topLevel.has(t))
    .map((tensor) => ({
      tensor,
      reason: 'not a value of the main graph (inside a subgraph?); not calibrated',
    }));
  const wanted = tensors.filter((t) => topLevel.has(t));
  const observers = new Map<string, Observer>();
  for (const t of wanted) observers.set(t, createObserver(methodOf(t), { ...options.observer, name: t }));

  const budget = options.budgetBytes ?? DEFAULT_CALIBRATION_BUDGET_BYTES;
  const graphInputs = new Set(model.graph.inputNames());
  // Sizes are learnt from the first batch, fetched in small groups so that learning stays in budget.
  const sizes = new Map<string, number>();
  let firstFeed: Readonly<Record<string, Tensor>> | undefined;
  for await (const feed of feeds()) {
    firstFeed = feed;
    break;
  }
  if (!firstFeed)
    throw new QgrainError('invalid-argument', 'the calibration data is empty; give at least one sample');
  const probeGroups = chunk(wanted, 64);
  for (const group of probeGroups) {
    const runner = await options.runner(exposeTensors(model, group));
    try {
      const out = await runner.run(pickInputs(firstFeed, graphInputs), fetchNames(group, graphInputs));
      for (const t of group) sizes.set(t, byteSize(out[t] ?? firstFeed[t]));
    } finally {
      await runner.release();
    }
  }
  const passes = packByBudget(wanted, sizes, budget);
  let batches = 0;
  for (let p = 0; p < passes.length; p++) {
    const group = passes[p]!;
    const runner = await options.runner(exposeTensors(model, group));
    let batch = 0;
    try {
      for await (const feed of feeds()) {
        const out = await runner.run(pickInputs(feed, graphInputs), fetchNames(group, graphInputs));
        for (const t of group) {
          const value = out[t] ?? feed[t];
          if (!value) throw new QgrainError('internal', `calibration run returned no value for '${t}'`);
          if (value.dtype !== 'float32') {
            throw new QgrainError(
              'unsupported',
              `activation '${t}' is ${value.dtype}; only float32 activations are calibrated`,
            );
          }
          observers.get(t)!.observe(value.data as Float32Array, value.shape);
        }
        batch++;
        options.onProgress?.({ pass: p + 1, passes: passes.length, batch });
      }
    } finally {
      await runner.release();
    }
    batches = batch;
  }
  return { observers, batches, passes: passes.length, skipped };
}

function pickInputs(feed: Readonly<Record<string, Tensor>>, inputs: Set<string>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feed)) if (inputs.has(name)) out[name] = t;
  return out;
}

// Graph inputs are already in the feed; only node outputs are fetched.
function fetchNames(group: readonly string[], inputs: Set<string>): string[] {
  return group.filter((t) => !inputs.has(t));
}

function byteSize(t: Tensor | undefined): number {
  return t ? (t.data as ArrayBufferView).byteLength : 0;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Splits tensors into groups whose fetched bytes fit the budget (a tensor alone may exceed it). */
export function packByBudget(
  tensors: readonly string[],
  sizes: ReadonlyMap<string, number>,
  budget: number,
): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const t of tensors) {
    const size = sizes.get(t) ?? 0;
    if (current.length > 0 && used + size > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(t);
    used += size;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups;
}
