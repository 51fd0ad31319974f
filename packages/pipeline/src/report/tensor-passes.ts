import type { Model } from '@qgrain/onnx';
import { QgrainError, type Tensor } from '@qgrain/tensor';
import {
  DEFAULT_CALIBRATION_BUDGET_BYTES,
  type FeedSource,
  exposeTensors,
  packByBudget,
} from '../calibrate/calibrate.js';
import type { RunnerFactory } from '../runner/runner.js';

/** Options of `runTensorPasses`. */
export interface TensorPassOptions {
  readonly runner: RunnerFactory;
  /** Bytes the fetched intermediates of one pass may take, over all the models run. */
  readonly budgetBytes?: number;
}

/**
 * Runs `models` (which take the same inputs) on every feed and hands `visit` what each fetched:
 * `always` (graph outputs, fetched in the first pass only) and the intermediate `tensors`, exposed
 * as graph outputs. The intermediates are split into passes that fit the memory budget, sized by
 * one run of the first model on the first feed, so a large model takes several passes over the
 * data, each pass fetching only its own group (`pass` counts from 0). Resolves to the number of
 * feeds in a pass.
 * The one way the report functions (compareModels, rangeCoverage) run models over data.
 */
export async function runTensorPasses(
  models: readonly Model[],
  always: readonly string[],
  tensors: readonly string[],
  feeds: FeedSource,
  options: TensorPassOptions,
  visit: (
    fetched: readonly Readonly<Record<string, Tensor>>[],
    names: readonly string[],
    feed: Readonly<Record<string, Tensor>>,
    pass: number,
  ) => void,
): Promise<number> {
  const budget = options.budgetBytes ?? DEFAULT_CALIBRATION_BUDGET_BYTES;
  let first: Readonly<Record<string, Tensor>> | undefined;
  for await (const feed of feeds()) {
    first = feed;
    break;
  }
  if (!first)
    throw new QgrainError(
      'missing-data',
      'no data to compare on; give a data source with at least one batch',
      {
        option: 'data',
      },
    );
  const passes: string[][] = [[]];
  if (tensors.length > 0) {
    // Sizes of the intermediates from one run of the first model, to split them into passes.
    const sizes = new Map<string, number>();
    for (let i = 0; i < tensors.length; i += 64) {
      const group = tensors.slice(i, i + 64);
      const r = await options.runner(exposeTensors(models[0]!, group));
      try {
        const out = await r.run(first, group);
        for (const n of group) sizes.set(n, (out[n]?.data as ArrayBufferView | undefined)?.byteLength ?? 0);
      } finally {
        await r.release();
      }
    }
    // Each pass holds the tensor from every model.
    passes.splice(0, 1, ...packByBudget(tensors, sizes, budget / models.length));
  }
  let samples = 0;
  for (let p = 0; p < passes.length; p++) {
    const group = passes[p]!;
    const fetch = p === 0 ? [...always, ...group] : group;
    const runners = [];
    try {
      for (const model of models) runners.push(await options.runner(exposeTensors(model, group)));
      let count = 0;
      for await (const feed of feeds()) {
        const fetched = [];
        for (const r of runners) fetched.push(await r.run(feed, fetch));
        visit(fetched, fetch, feed, p);
        count++;
      }
      samples = count;
    } finally {
      for (const r of runners) await r.release();
    }
  }
  return samples;
}
