import {
  type Graph,
  type Model,
  OnnxDataType,
  REDUCE_AXES_INPUT_OPSET,
  dtypeOfOnnx,
  elementTypes,
  makeUnshapedValueInfo,
  parseModel,
  serializeModel,
} from '@qgrain/onnx';
import { type CreateObserverOptions, type Observer, createObserver } from '@qgrain/observers';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { selectBackend } from '@qgrain/wasm';
import { reachableByIfOutputs } from '../plan/graph-scope.js';
import type { Runner, RunnerFactory } from '../runner/runner.js';

/** A re-readable stream of model feeds: calibration may pass over the data more than once. */
export type FeedSource = () => AsyncIterable<Readonly<Record<string, Tensor>>>;

/** Default memory for the activations fetched from one run: above it, calibration takes several passes. */
export const DEFAULT_CALIBRATION_BUDGET_BYTES = 1024 * 1024 * 1024;

/** Options of `calibrateActivations`. */
export interface CalibrateOptions {
  /** Calibration method text (`minmax`, `percentile:99.99`, `entropy`, `mse`, ...) or one per tensor. */
  readonly method: string | ((tensor: string) => string);
  readonly runner: RunnerFactory;
  /**
   * Bytes of fetched activations calibration may hold at once; more tensors are split into
   * passes. The sizes are measured on the first batch, which is fetched whole (one run may exceed
   * the budget once, when a split is needed).
   */
  readonly budgetBytes?: number;
  /**
   * Options for every observer (backend, bins, ...). Without a backend, the WASM SIMD one is
   * used where the runtime has it (`selectBackend('auto')`), the JS reference otherwise.
   */
  readonly observer?: Omit<CreateObserverOptions, 'name'>;
  /**
   * Per-tensor observer settings over `observer`: the integer bits and grid each activation will
   * be quantized to, which a histogram's range selection (entropy, MSE, symmetric percentile)
   * optimises for, and where its readers saturate. See `observerTargets`.
   */
  readonly observerFor?: (tensor: string) => Pick<CreateObserverOptions, 'symmetric' | 'bits' | 'clip'>;
  /** Called after each batch of each pass. */
  readonly onProgress?: (event: { pass: number; passes: number; batch: number }) => void;
}

/** What calibration measured. */
export interface CalibrationResult {
  /** One observer per activation tensor, fed with every batch. */
  readonly observers: Map<string, Observer>;
  readonly batches: number;
  readonly passes: number;
  /**
   * Tensors that could not be observed, with why: inside Loop/Scan bodies, or in an If branch
   * that no calibration batch took.
   */
  readonly skipped: ReadonlyArray<{ tensor: string; reason: string }>;
}

/** The graph output a value of an If branch is fetched through (see routeOutOfBranches). */
export function routedName(tensor: string): string {
  return `${tensor}::qgrain_out`;
}

/** The If branch (reached through If branches only) that defines `tensor`, if it is in one. */
function branchOf(model: Model, tensor: string): Graph | undefined {
  return model
    .graphs()
    .find(
      (g) => g.parent !== undefined && g.defines(tensor) && !g.isInput(tensor) && reachableByIfOutputs(g),
    );
}

/** Element types of a body's values, inferred from the main graph down (outer values typed). */
function typesDownTo(graph: Graph): Map<string, number> {
  return graph.parent ? elementTypes(graph, typesDownTo(graph.parent)) : elementTypes(graph);
}

/**
 * Makes a value of an If branch a value of the main graph: at each If on the way out, the branch
 * outputs it as one more output, the other branch outputs an empty tensor of the same type in its
 * place (an If's branches must agree on their outputs), and the If node gets one more output. A
 * run that takes the other branch fetches the empty tensor, which calibration skips. Returns the
 * main-graph name (routedName).
 */
function routeOutOfBranches(model: Model, branch: Graph, tensor: string): string {
  const type = typesDownTo(branch).get(tensor) ?? OnnxDataType.FLOAT;
  const dtype = dtypeOfOnnx(type) ?? 'float32';
  let g = branch;
  let value = tensor;
  while (g.parent && g.owner) {
    const parent = g.parent;
    const owner = g.owner;
    for (const sibling of parent.subgraphs(owner)) {
      if (sibling.proto === g.proto) {
        sibling.proto.output.push(makeUnshapedValueInfo(value, dtype));
        continue;
      }
      const empty = model.uniqueName(`${tensor}::qgrain_empty`);
      sibling.addNode({
        opType: 'Constant',
        inputs: [],
        outputs: [empty],
        attributes: { value: Tensor.zeros(dtype, [0]) },
      });
      sibling.proto.output.push(makeUnshapedValueInfo(empty, dtype));
    }
    value = parent.parent ? model.uniqueName(`${tensor}::qgrain_route`) : routedName(tensor);
    owner.output.push(value);
    g = parent;
  }
  return value;
}

/**
 * The bytes of `model` with `tensors` added to its graph outputs, so one run fetches them. A
 * value of an If branch is routed out through If outputs and fetched as `routedName(tensor)`;
 * that edit is made on a copy. The model itself is left as it was.
 */
export function exposeTensors(model: Model, tensors: readonly string[]): Uint8Array {
  const inBranches = tensors.map((t) => [t, branchOf(model, t)] as const).filter(([, b]) => b !== undefined);
  if (inBranches.length > 0) {
    const copy = parseModel(serializeModel(model), { source: model.source });
    const names = tensors.map((t) => {
      const branch = branchOf(copy, t);
      return branch ? routeOutOfBranches(copy, branch, t) : t;
    });
    return exposeTensors(copy, names);
  }
  const graph = model.proto.graph!;
  const saved = graph.output;
  const existing = new Set(saved.map((v) => v.name));
  graph.output = [...saved, ...tensors.filter((t) => !existing.has(t)).map((t) => makeUnshapedValueInfo(t))];
  try {
    return serializeModel(model);
  } finally {
    graph.output = saved;
  }
}

/** Names of the in-graph reductions that stand in for a tensor observed only through its extremes. */
function extremaNames(tensor: string): { min: string; max: string } {
  return { min: `${tensor}::qgrain_min`, max: `${tensor}::qgrain_max` };
}

/**
 * Model bytes for one calibration pass: `full` tensors become graph outputs as they are; each of
 * `extrema` gets a ReduceMin and a ReduceMax, and only those two scalars are fetched. A min-max or
 * moving-average observer needs nothing more of a batch than its minimum and maximum, and
 * onnxruntime reduces in place far faster than a copy of the tensor reaches JavaScript. Each
 * reduction runs in two stages, over the last axis and then over the rest: onnxruntime splits a
 * reduction across threads by its outputs, so a reduction to one scalar runs on one thread.
 * Calibrated activations are inputs and outputs of Conv, Gemm and MatMul, never scalars. The model
 * itself is left as it was.
 */
export function calibrationModel(
  model: Model,
  full: readonly string[],
  extrema: readonly string[],
): Uint8Array {
  const graph = model.graph;
  const axesAsInput = (model.opsetVersion() ?? REDUCE_AXES_INPUT_OPSET) >= REDUCE_AXES_INPUT_OPSET;
  const lastAxis = axesAsInput ? model.uniqueName('qgrain_last_axis') : undefined;
  if (lastAxis) graph.addInitializer(lastAxis, new Tensor('int64', [1], BigInt64Array.of(-1n)));
  const reduce = (op: 'ReduceMin' | 'ReduceMax', t: string, out: string) => {
    const rows = `${out}::rows`;
    return [
      graph.addNode({
        opType: op,
        inputs: lastAxis ? [t, lastAxis] : [t],
        outputs: [rows],
        attributes: lastAxis ? { keepdims: 0 } : { keepdims: 0, axes: [-1] },
      }),
      graph.addNode({ opType: op, inputs: [rows], outputs: [out], attributes: { keepdims: 0 } }),
    ];
  };
  const added = extrema.flatMap((t) => {
    const names = extremaNames(t);
    return [...reduce('ReduceMin', t, names.min), ...reduce('ReduceMax', t, names.max)];
  });
  try {
    return exposeTensors(model, [...full, ...extrema.flatMap((t) => Object.values(extremaNames(t)))]);
  } finally {
    for (const node of added) graph.removeNode(node);
    if (lastAxis) graph.removeInitializer(lastAxis);
  }
}

/**
 * Runs the float model over the calibration feeds and streams every requested activation into its
 * observer. Memory does not grow with the number of batches: each batch's activations are folded
 * into the observers and dropped.
 *
 * The first pass fetches every tensor from one session and learns their sizes from its first
 * batch, so a model that fits the budget is read once, by one session, with no extra runs. When
 * that first batch shows the activations exceed the budget, it is still observed, and the
 * remaining batches are read once per group of tensors that fits (`packByBudget`), each group
 * with a session of its own. The next run is started before the observers fold batch k, so a
 * runner that computes off the main thread (onnxruntime-web's worker proxy, a remote service)
 * works on batch k + 1 meanwhile; onnxruntime-node 1.30 runs a session synchronously on the main
 * thread, so there the two take turns. Starting early holds two batches' activations, so it is
 * done only when two fit the budget.
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
  // Values of If branches are fetched through If outputs (exposeTensors); Loop and Scan bodies
  // hold a value per iteration, which no output of theirs gives whole.
  const inBranches = new Set(tensors.filter((t) => !topLevel.has(t) && branchOf(model, t)));
  const skipped = tensors
    .filter((t) => !topLevel.has(t) && !inBranches.has(t))
    .map((tensor) => ({
      tensor,
      reason: 'inside a Loop or Scan body, whose values onnxruntime cannot fetch whole',
    }));
  const wanted = tensors.filter((t) => topLevel.has(t) || inBranches.has(t));
  const fetchName = (t: string) => (inBranches.has(t) ? routedName(t) : t);
  // One backend for all observers: a WASM instance owns its memory, so sharing it keeps one heap.
  const backend = options.observer?.backend ?? (await selectBackend('auto'));
  const observers = new Map<string, Observer>();
  for (const t of wanted)
    observers.set(
      t,
      createObserver(methodOf(t), { ...options.observer, ...options.observerFor?.(t), backend, name: t }),
    );
  const budget = options.budgetBytes ?? DEFAULT_CALIBRATION_BUDGET_BYTES;
  const graphInputs = new Set(model.graph.inputNames());
  // Per-tensor min-max and moving-average observers see each batch through its extremes only.
  const extrema = new Set(
    wanted.filter((t) => {
      const o = observers.get(t)!;
      return (
        !graphInputs.has(t) &&
        !inBranches.has(t) &&
        o.kind !== 'histogram' &&
        o.config.granularity.kind === 'per-tensor'
      );
    }),
  );

  let groups: string[][] = [wanted];
  const first = await streamPass({
    model,
    group: wanted,
    feeds,
    runner: options.runner,
    observers,
    graphInputs,
    extrema,
    fetchName,
    skip: 0,
    decide(out) {
      // Graph inputs come with the feed; only fetched outputs are held because of calibration.
      const sizes = new Map<string, number>();
      let total = 0;
      for (const t of wanted) {
        const size = graphInputs.has(t) ? 0 : byteSize(out[fetchName(t)]);
        sizes.set(t, size);
        total += size;
      }
      if (total > budget) groups = packByBudget(wanted, sizes, budget);
      return { stop: groups.length > 1, overlap: 2 * total <= budget };
    },
    progress: (batch) => options.onProgress?.({ pass: 1, passes: groups.length, batch }),
  });
  if (first.batches === 0)
    throw new QgrainError('invalid-argument', 'the calibration data is empty; give at least one sample');
  let batches = first.batches;
  if (groups.length > 1) {
    for (let p = 0; p < groups.length; p++) {
      const group = groups[p]!;
      const result = await streamPass({
        model,
        group,
        feeds,
        runner: options.runner,
        observers,
        graphInputs,
        extrema,
        fetchName,
        // The first batch was observed for every tensor by the run that measured the sizes.
        skip: 1,
        decide: (out) => ({
          stop: false,
          overlap: 2 * group.reduce((sum, t) => sum + byteSize(out[fetchName(t)]), 0) <= budget,
        }),
        progress: (batch) => options.onProgress?.({ pass: p + 1, passes: groups.length, batch }),
      });
      batches = result.batches;
    }
  }
  const unreached = wanted
    .filter((t) => observers.get(t)!.shape === undefined)
    .map((tensor) => ({ tensor, reason: 'in an If branch that no calibration batch took' }));
  for (const { tensor } of unreached) observers.delete(tensor);
  return { observers, batches, passes: groups.length, skipped: [...skipped, ...unreached] };
}

/** What one pass needs: the tensors it fetches, where they go, and how it decides its pace. */
interface PassOptions {
  readonly model: Model;
  /** The output a tensor is fetched as (a value of an If branch comes out under another name). */
  readonly fetchName: (tensor: string) => string;
  readonly group: readonly string[];
  readonly feeds: FeedSource;
  readonly runner: RunnerFactory;
  readonly observers: ReadonlyMap<string, Observer>;
  readonly graphInputs: ReadonlySet<string>;
  /** Tensors fetched as their minimum and maximum only (see calibrationModel). */
  readonly extrema: ReadonlySet<string>;
  /** Batches at the start of the data that earlier runs already observed. */
  readonly skip: number;
  /**
   * Called once with the first run's outputs, before anything else is started: `stop` ends the
   * pass after observing that batch; `overlap` lets the next run start before observing.
   */
  readonly decide: (out: Readonly<Record<string, Tensor>>) => { stop: boolean; overlap: boolean };
  /** Called after each observed batch, with its 1-based index in the data. */
  readonly progress: (batch: number) => void;
}

interface InFlight {
  readonly index: number;
  readonly feed: Readonly<Record<string, Tensor>>;
  readonly out: Promise<Record<string, Tensor>>;
}

/**
 * One read of the data with one session fetching `group`. At most one run is in flight while the
 * main thread observes the previous batch, so at most two batches' activations are alive.
 * Returns how many batches the data held (0 when it was empty).
 */
async function streamPass(p: PassOptions): Promise<{ batches: number }> {
  // Graph inputs are already in the feed; only node outputs are fetched.
  const full = p.group.filter((t) => !p.graphInputs.has(t) && !p.extrema.has(t));
  const reduced = p.group.filter((t) => p.extrema.has(t));
  const fetch = [...full.map(p.fetchName), ...reduced.flatMap((t) => Object.values(extremaNames(t)))];
  const iterator = p.feeds()[Symbol.asyncIterator]();
  let index = 0;
  let exhausted = false;
  let runner: Runner | undefined;
  let pending: InFlight | undefined;
  const start = async (): Promise<InFlight | undefined> => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        return undefined;
      }
      const i = index++;
      if (i < p.skip) continue;
      // The session is created only once there is a batch to run it on.
      runner ??= await p.runner(calibrationModel(p.model, full, reduced));
      const feed = next.value;
      const out = runner.run(pickInputs(feed, p.graphInputs), fetch);
      // A run still in flight when observing throws is awaited in `finally`; until then its
      // rejection must not count as unhandled.
      out.catch(() => undefined);
      return { index: i, feed, out };
    }
  };
  try {
    pending = await start();
    let decided: { stop: boolean; overlap: boolean } | undefined;
    while (pending) {
      const current = pending;
      pending = undefined;
      const out = await current.out;
      decided ??= p.decide(out);
      if (decided.stop) {
        observeBatch(p, current.feed, out);
        p.progress(current.index + 1);
        break;
      }
      // Starting the next run first lets onnxruntime compute it while this thread observes.
      if (decided.overlap) pending = await start();
      observeBatch(p, current.feed, out);
      p.progress(current.index + 1);
      if (!decided.overlap) pending = await start();
    }
    // A stopped pass counts only what it read; the passes after it count the whole data.
    return { batches: index };
  } finally {
    if (pending) await pending.out.catch(() => undefined);
    if (!exhausted) await iterator.return?.();
    await runner?.release();
  }
}

function observeBatch(
  p: Pick<PassOptions, 'observers' | 'group' | 'extrema' | 'fetchName'>,
  feed: Readonly<Record<string, Tensor>>,
  out: Readonly<Record<string, Tensor>>,
): void {
  const { observers, group } = p;
  for (const t of group) {
    if (p.extrema.has(t)) {
      const names = extremaNames(t);
      const lo = out[names.min];
      const hi = out[names.max];
      if (!lo || !hi) throw new QgrainError('internal', `calibration run returned no extremes for '${t}'`);
      observers.get(t)!.observe(Float32Array.of(lo.toFloat32()[0]!, hi.toFloat32()[0]!), [2]);
      continue;
    }
    const value = out[p.fetchName(t)] ?? feed[t];
    if (!value) throw new QgrainError('internal', `calibration run returned no value for '${t}'`);
    // An If branch this run did not take gives its values as empty tensors.
    if (value.size === 0) continue;
    if (value.dtype !== 'float32' && value.dtype !== 'float16' && value.dtype !== 'bfloat16') {
      throw new QgrainError(
        'unsupported',
        `activation '${t}' is ${value.dtype}; only float activations are calibrated`,
        { tensor: t },
      );
    }
    // Observers work in float32: a float16 activation widens exactly.
    observers.get(t)!.observe(value.toFloat32(), value.shape);
  }
}

function pickInputs(
  feed: Readonly<Record<string, Tensor>>,
  inputs: ReadonlySet<string>,
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feed)) if (inputs.has(name)) out[name] = t;
  return out;
}

function byteSize(t: Tensor | undefined): number {
  return t ? (t.data as ArrayBufferView).byteLength : 0;
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
