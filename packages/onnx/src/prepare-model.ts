import { foldBatchNorms } from './fold-batch-norm.js';
import { liftConstants } from './lift-constants.js';
import type { Model } from './model.js';
import { removeIdentities } from './remove-identity.js';

/** Options of `prepareModel`. */
export interface PrepareOptions {
  /** Fold BatchNormalization into the layer before it. Default true. */
  readonly foldBatchNorm?: boolean;
}

/** What `prepareModel` did, for the report. */
export interface PrepareSummary {
  readonly constantsLifted: number;
  readonly identitiesRemoved: number;
  readonly batchNormsFolded: number;
}

/**
 * Gets a model ready for quantization, in place, keeping its outputs: Constant nodes become
 * initializers (weights are then all in one place), Identity/Dropout nodes go (so a layer and
 * its BatchNorm are adjacent), and BatchNorms fold into the layer before them.
 */
export function prepareModel(model: Model, options: PrepareOptions = {}): PrepareSummary {
  const constantsLifted = liftConstants(model);
  const identitiesRemoved = removeIdentities(model);
  const batchNormsFolded = options.foldBatchNorm === false ? 0 : foldBatchNorms(model);
  return { constantsLifted, identitiesRemoved, batchNormsFolded };
}
