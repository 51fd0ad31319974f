// The plan file: what `qgrain advise` decided, tensor by tensor, with the measurements that chose
// each option, in a versioned JSON document that `qgrain quantize --plan` applies exactly. It is
// tied to the model bytes it was made for by their SHA-256, as a calibration cache is.
import type { Model } from '@qgrain/onnx';
import { QgrainError } from '@qgrain/tensor';
import type { Plan } from '../plan/plan.js';
import { planModel } from '../plan/plan-model.js';
import type { StaticOptions } from '../modes/static.js';

/** The `format` marker of a plan file; the number changes when the layout does. */
export const PLAN_FORMAT = 'qgrain-plan/1';

/** One option the advisor measured for a tensor. */
export interface PlanCandidate {
  /** `int8/per-channel`, `uint8/per-tensor mse`, `float`, ... */
  readonly candidate: string;
  /** Predicted model output SQNR with only this tensor quantized this way (dB; null: no error). */
  readonly output_sqnr_db: number | null;
  /** SQNR of the tensor's own values under the option (dB; null: no error). */
  readonly local_sqnr_db: number | null;
  readonly bytes: number;
  readonly latency_ms: number;
  /**
   * How `output_sqnr_db` was found: the option run alone; its share of a run with the same
   * option of the other weights of its group; or predicted from a measured option by own noise.
   */
  readonly measured?: 'alone' | 'group' | 'predicted';
  /** An activation option's range (its calibrator's choice on the calibration data). */
  readonly range?: { readonly min: number; readonly max: number };
}

/** What the plan does to one weight. */
export interface PlanWeight {
  readonly scheme: string;
  readonly nodes: readonly string[];
  readonly op: string;
  readonly depthwise: boolean;
  /** Measured with only this weight quantized by the reference option (null: not measured). */
  readonly candidates: readonly PlanCandidate[];
  readonly reason: string;
}

/** What the plan does to one activation: a scheme with its range, or `float`. */
export interface PlanActivation {
  readonly scheme: string;
  readonly method?: string;
  readonly range?: { readonly min: number; readonly max: number };
  /** Nodes whose integer kernels need it. */
  readonly for: readonly string[];
  readonly candidates: readonly PlanCandidate[];
  readonly reason: string;
}

/** A plan document. */
export interface PlanDocument {
  readonly format: typeof PLAN_FORMAT;
  /** Lower-case hex SHA-256 of the .onnx file the plan was made for. */
  readonly model_sha256: string;
  /** The model's file name, for messages. */
  readonly model: string;
  readonly budget: { readonly target_sqnr_db?: number; readonly max_size_bytes?: number };
  /** Node names or op types the advisor left float, as `quantize --exclude` does. */
  readonly exclude: readonly string[];
  readonly weights: Readonly<Record<string, PlanWeight>>;
  readonly activations: Readonly<Record<string, PlanActivation>>;
  /** What the plan was predicted to give, and what the built model measured. */
  readonly predicted: { readonly output_sqnr_db: number; readonly bytes: number };
  readonly measured?: {
    readonly output_sqnr_db: Readonly<Record<string, number | null>>;
    readonly bytes: number;
    readonly latency_ms?: number;
    readonly float_latency_ms?: number;
  };
  /** Where the data came from and how it was split. */
  readonly data?: {
    readonly description: string;
    readonly calibration_batches: number;
    readonly holdout_batches: number;
  };
}

function invalid(origin: string, why: string): QgrainError {
  return new QgrainError(
    'invalid-argument',
    `${origin} is not a valid qgrain plan: ${why}; make it again with qgrain advise`,
    {
      file: origin,
      option: 'plan',
    },
  );
}

/** Checks the shape of a parsed plan document (not yet against a model). */
export function validatePlan(value: unknown, origin = 'the plan'): PlanDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(origin, 'not a JSON object');
  const doc = value as Record<string, unknown>;
  if (doc['format'] !== PLAN_FORMAT)
    throw invalid(origin, `format is ${JSON.stringify(doc['format'])}, expected '${PLAN_FORMAT}'`);
  if (typeof doc['model_sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(doc['model_sha256']))
    throw invalid(origin, 'model_sha256 is not a 64-digit hex SHA-256');
  for (const key of ['weights', 'activations'] as const) {
    const entries = doc[key];
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
      throw invalid(origin, `${key} is not an object`);
    for (const [name, entry] of Object.entries(entries)) {
      const e = entry as Record<string, unknown>;
      if (typeof e?.['scheme'] !== 'string') throw invalid(origin, `${key} '${name}' has no scheme`);
      if (key === 'activations' && e['scheme'] !== 'float') {
        const r = e['range'] as Record<string, unknown> | undefined;
        if (
          !r ||
          !Number.isFinite(r['min']) ||
          !Number.isFinite(r['max']) ||
          (r['min'] as number) > (r['max'] as number)
        )
          throw invalid(origin, `activation '${name}' has no finite range`);
      }
    }
  }
  if (!Array.isArray(doc['exclude']) || !doc['exclude'].every((e) => typeof e === 'string'))
    throw invalid(origin, 'exclude is not a list of names');
  return value as PlanDocument;
}

/**
 * Checks a plan against the model it is applied to: the same bytes (SHA-256), and after the same
 * planning, the same weights and activations. A plan made for another model, or by a qgrain whose
 * prepare passes name tensors differently, is refused naming what differs.
 */
export function checkPlanFits(
  plan: PlanDocument,
  sha256: string,
  file: string,
  planned: Plan,
  origin = 'the plan',
): void {
  if (plan.model_sha256 !== sha256) {
    throw new QgrainError(
      'plan-mismatch',
      `${origin} was made for another model ('${plan.model}', SHA-256 ${plan.model_sha256.slice(0, 12)}...), not ${file} (${sha256.slice(0, 12)}...); run qgrain advise on this model`,
      { file, option: 'plan' },
    );
  }
  const need = (kind: string, have: Iterable<string>, want: Iterable<string>) => {
    const known = new Set(have);
    const missing = [...want].filter((n) => !known.has(n));
    if (missing.length > 0)
      throw new QgrainError(
        'plan-mismatch',
        `${origin} names ${kind} '${missing[0]}'${missing.length > 1 ? ` and ${missing.length - 1} more` : ''} that ${file} does not have after prepare (made by another qgrain version?); run qgrain advise again`,
        { file, tensor: missing[0]!, option: 'plan' },
      );
  };
  need(
    'weight',
    planned.weights.map((w) => w.initializer),
    Object.keys(plan.weights),
  );
  need(
    'activation',
    planned.activations.map((a) => a.tensor),
    Object.keys(plan.activations),
  );
  need(
    'weight',
    Object.keys(plan.weights),
    planned.weights.map((w) => w.initializer),
  );
  need(
    'activation',
    Object.keys(plan.activations),
    planned.activations.map((a) => a.tensor),
  );
}

/** The static-mode options that apply a plan exactly: per-tensor schemes, ranges and float activations. */
export function planOptions(
  plan: PlanDocument,
): Pick<StaticOptions, 'overrides' | 'ranges' | 'floatActivations' | 'exclude'> {
  const overrides: Record<string, string> = {};
  const ranges: Record<string, { min: number; max: number }> = {};
  const floatActivations: string[] = [];
  for (const [name, w] of Object.entries(plan.weights)) overrides[name] = w.scheme;
  for (const [name, a] of Object.entries(plan.activations)) {
    if (a.scheme === 'float') {
      floatActivations.push(name);
      continue;
    }
    overrides[name] = a.scheme;
    ranges[name] = { min: a.range!.min, max: a.range!.max };
  }
  return { overrides, ranges, floatActivations, exclude: plan.exclude };
}

/**
 * The options that apply a plan to a (prepared) model, after checking that the plan was made for
 * it: the same file bytes (`sha256`) and, once planned, the same tensors. `file` names the model
 * in errors.
 */
export function applyPlan(
  model: Model,
  plan: PlanDocument,
  sha256: string,
  file: string,
  origin = 'the plan',
): ReturnType<typeof planOptions> {
  const planned = planModel(model, { exclude: plan.exclude });
  checkPlanFits(plan, sha256, file, planned, origin);
  return planOptions(plan);
}
