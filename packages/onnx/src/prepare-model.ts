import { stripExporterNotes } from './exporter-notes.js';
import { foldChannelAffines } from './fold-affine.js';
import { foldBatchNorms } from './fold-batch-norm.js';
import { fuseHardSwishes } from './fuse-hard-swish.js';
import { liftConstants } from './lift-constants.js';
import type { Model } from './model.js';
import { removeIdentities } from './remove-identity.js';

/** Options of `prepareModel`. */
export interface PrepareOptions {
  /** Fold BatchNormalization into the layer before it. Default true. */
  readonly foldBatchNorm?: boolean;
  /** Fold constant per-channel Mul/Add/Sub nodes into the Conv, ConvTranspose or Gemm before them. Default true. */
  readonly foldAffine?: boolean;
  /** Rewrite HardSwish spelled out as Add/Clip/Mul/Div as x * HardSigmoid(x). Default true. */
  readonly fuseHardSwish?: boolean;
  /** Drop exporters' debugging notes on nodes (doc_string, metadata_props). Default true. */
  readonly stripExporterNotes?: boolean;
}

/** What `prepareModel` did, for the report. */
export interface PrepareSummary {
  readonly constantsLifted: number;
  readonly identitiesRemoved: number;
  readonly batchNormsFolded: number;
  readonly affinesFolded: number;
  readonly hardSwishesFused: number;
  /** Nodes whose exporter notes (stack traces and the like) were dropped. */
  readonly exporterNotesStripped: number;
}

/**
 * Gets a model ready for quantization, in place, keeping its outputs: Constant nodes become
 * initializers (weights are then all in one place), Identity/Dropout nodes go (so a layer and
 * its BatchNorm are adjacent), BatchNorms fold into the layer before them, and so do constant
 * per-channel Mul/Add/Sub nodes (a quantized layer's output is then the tensor the next layers
 * read, with no float scale-and-shift in between); HardSwish spelled out in four element-wise
 * nodes becomes x * HardSigmoid(x). Exporters' debugging notes on nodes are dropped.
 */
export function prepareModel(model: Model, options: PrepareOptions = {}): PrepareSummary {
  const constantsLifted = liftConstants(model);
  const identitiesRemoved = removeIdentities(model);
  const foldBn = options.foldBatchNorm !== false;
  const foldAffine = options.foldAffine !== false;
  let batchNormsFolded = foldBn ? foldBatchNorms(model) : 0;
  let affinesFolded = 0;
  // A Mul/Add fold can bring a BatchNorm next to its layer (Conv -> Mul -> BN) and a BN fold a
  // Mul/Add (Conv -> BN -> Mul): fold until neither finds more.
  while (foldAffine) {
    const affines = foldChannelAffines(model);
    affinesFolded += affines;
    const norms = affines > 0 && foldBn ? foldBatchNorms(model) : 0;
    batchNormsFolded += norms;
    if (norms === 0) break;
  }
  const hardSwishesFused = options.fuseHardSwish === false ? 0 : fuseHardSwishes(model);
  const exporterNotesStripped = options.stripExporterNotes === false ? 0 : stripExporterNotes(model);
  return {
    constantsLifted,
    identitiesRemoved,
    batchNormsFolded,
    affinesFolded,
    hardSwishesFused,
    exporterNotesStripped,
  };
}
