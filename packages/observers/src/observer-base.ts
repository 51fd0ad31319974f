import {
  type AxisContext,
  type Granularity,
  type ResolvedGranularity,
  formatGranularity,
  layoutOf,
  perAxis,
  resolveGranularity,
} from '@qgrain/granularity';
import {
  type Backend,
  type GroupLayout,
  QgrainError,
  assertShape,
  countNonFinite,
  formatShape,
  jsBackend,
  shapeSize,
} from '@qgrain/tensor';
import { expectCount, expectNumber, expectRecord, expectShape } from './json-state.js';
import { rangeHoldsInfinity, replaceInfinities } from './non-finite.js';
import {
  type BaseObserverConfig,
  OBSERVER_JSON_FORMAT,
  OBSERVER_JSON_VERSION,
  type Observer,
  type ObserverJSON,
  type ObserverClip,
  type ObserverKind,
  type ObserverOptions,
  type ObservedRange,
} from './observer.js';

/** One batch after the shared checks: its group layout, data without infinities, group ranges. */
export interface PreparedBatch {
  readonly layout: GroupLayout;
  readonly data: Float32Array;
  /** The batch's own minimum and maximum per group (+Inf / -Inf for a group with no value). */
  readonly min: Float32Array;
  readonly max: Float32Array;
}

/** The range of groups that saw nothing: min +Infinity, max -Infinity (read as [0, 0] by qparams). */
export function emptyRange(groups: number): ObservedRange {
  return {
    min: new Float32Array(groups).fill(Number.POSITIVE_INFINITY),
    max: new Float32Array(groups).fill(Number.NEGATIVE_INFINITY),
  };
}

/** Keeps only the AxisContext fields that are set, in a fixed order (configs compare as JSON). */
function canonicalContext(context: AxisContext | undefined): AxisContext {
  const out: { channelAxis?: number; blockAxis?: number } = {};
  if (context?.channelAxis !== undefined) out.channelAxis = context.channelAxis;
  if (context?.blockAxis !== undefined) out.blockAxis = context.blockAxis;
  return out;
}

/** Rebuilds a granularity from its JSON form, accepting only what observers support. */
export function granularityFromJSON(value: unknown): Granularity {
  const g = expectRecord(value, 'config.granularity');
  if (g['kind'] === 'per-tensor') return { kind: 'per-tensor' };
  const axis = g['axis'];
  if (
    g['kind'] === 'per-axis' &&
    (typeof axis === 'number' || axis === 'channel' || axis === 'row' || axis === 'col')
  ) {
    return perAxis(axis);
  }
  throw new QgrainError(
    'invalid-argument',
    `saved observer state has an unsupported granularity ${JSON.stringify(value)}; observers are per-tensor or per-axis`,
  );
}

/** Checks a clip option: finite ends with min <= max; undefined when no end is set. */
function canonicalClip(clip: ObserverClip | undefined, where: string): ObserverClip | undefined {
  const out: { min?: number; max?: number } = {};
  for (const end of ['min', 'max'] as const) {
    const value = clip?.[end];
    if (value === undefined) continue;
    if (!Number.isFinite(value)) {
      throw new QgrainError('invalid-argument', `${where}: clip ${end} ${value} must be a finite number`);
    }
    out[end] = value;
  }
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) {
    throw new QgrainError('invalid-argument', `${where}: clip min ${out.min} is above clip max ${out.max}`);
  }
  return out.min === undefined && out.max === undefined ? undefined : out;
}

/** The options every observer kind saves in its config: granularity, context and clip. */
export function baseOptionsFromJSON(
  config: Record<string, unknown>,
): Pick<ObserverOptions, 'granularity' | 'context' | 'clip'> {
  const clip = config['clip'] === undefined ? undefined : expectRecord(config['clip'], 'config.clip');
  return {
    granularity: granularityFromJSON(config['granularity']),
    context: contextFromJSON(config['context']),
    ...(clip
      ? {
          clip: {
            ...(clip['min'] === undefined ? {} : { min: expectNumber(clip['min'], 'config.clip.min') }),
            ...(clip['max'] === undefined ? {} : { max: expectNumber(clip['max'], 'config.clip.max') }),
          },
        }
      : {}),
  };
}

/** Rebuilds an AxisContext from its JSON form. */
export function contextFromJSON(value: unknown): AxisContext {
  if (value === undefined) return {};
  const c = expectRecord(value, 'config.context');
  const out: { channelAxis?: number; blockAxis?: number } = {};
  if (c['channelAxis'] !== undefined)
    out.channelAxis = expectCount(c['channelAxis'], 'config.context.channelAxis');
  if (c['blockAxis'] !== undefined) out.blockAxis = expectNumber(c['blockAxis'], 'config.context.blockAxis');
  return out;
}

/**
 * What every observer shares: granularity resolution per batch, the group count fixed by the
 * first batch, batch and infinity counters, the infinity filtering, and the JSON envelope.
 */
export abstract class ObserverBase implements Observer {
  abstract readonly kind: ObserverKind;
  abstract readonly method: string;
  readonly config: BaseObserverConfig;
  readonly name: string | undefined;
  protected readonly backend: Backend;
  private firstShape: number[] | undefined;
  private groupCount: number | undefined;
  private batchCount = 0;
  private infinities = 0;
  private nans = 0;

  protected constructor(options: ObserverOptions) {
    const granularity = options.granularity ?? { kind: 'per-tensor' };
    if (granularity.kind !== 'per-tensor' && granularity.kind !== 'per-axis') {
      throw new QgrainError(
        'unsupported',
        `${this.where(options.name)}: observers take per-tensor or per-axis granularity, not ${formatGranularity(granularity)}; ` +
          'per-token and per-block ranges change with every batch, so quantize those dynamically',
      );
    }
    const clip = canonicalClip(options.clip, this.where(options.name));
    this.config = {
      granularity:
        granularity.kind === 'per-tensor'
          ? { kind: 'per-tensor' }
          : { kind: 'per-axis', axis: granularity.axis },
      context: canonicalContext(options.context),
      ...(clip ? { clip } : {}),
    };
    this.name = options.name;
    this.backend = options.backend ?? jsBackend;
  }

  get shape(): readonly number[] | undefined {
    return this.firstShape;
  }

  get groups(): number | undefined {
    return this.groupCount;
  }

  get batches(): number {
    return this.batchCount;
  }

  get nonFiniteCount(): number {
    return this.infinities;
  }

  get nanCount(): number {
    return this.nans;
  }

  abstract observe(data: Float32Array, shape: readonly number[]): void;
  abstract range(): ObservedRange;
  abstract merge(other: Observer): void;
  protected abstract configJSON(): Record<string, unknown>;
  protected abstract stateJSON(): Record<string, unknown>;

  /** "tensor 'name'" or "observer", for error messages. */
  protected where(name = this.name): string {
    return name === undefined ? 'observer' : `observer of tensor '${name}'`;
  }

  /** Checks a batch, fixes or checks the group count, and measures its per-group min/max. */
  protected prepareBatch(data: Float32Array, shape: readonly number[]): PreparedBatch {
    return this.measureBatch(data, this.checkBatch(data, shape));
  }

  /** Checks a batch's shape and size, fixes or checks the group count, and counts the batch. */
  protected checkBatch(data: Float32Array, shape: readonly number[]): GroupLayout {
    assertShape(shape, `${this.where()}: batch shape`);
    if (data.length !== shapeSize(shape)) {
      throw new QgrainError(
        'shape-mismatch',
        `${this.where()}: a batch of shape ${formatShape(shape)} needs ${shapeSize(shape)} values, got ${data.length}`,
      );
    }
    const resolved: ResolvedGranularity = resolveGranularity(
      this.config.granularity,
      shape,
      this.config.context,
    );
    const layout = layoutOf(resolved, shape);
    if (this.groupCount !== undefined && layout.groups !== this.groupCount) {
      throw new QgrainError(
        'shape-mismatch',
        `${this.where()}: a batch of shape ${formatShape(shape)} has ${layout.groups} groups under ` +
          `${formatGranularity(this.config.granularity)}, but earlier batches had ${this.groupCount} ` +
          `(first shape ${formatShape(this.firstShape ?? [])}); feed every batch with the same size on the quantized axis`,
      );
    }
    this.groupCount ??= layout.groups;
    this.firstShape ??= [...shape];
    this.batchCount++;
    return layout;
  }

  /**
   * Per-group min/max of values laid out as `layout`, with infinities replaced and counted and
   * the extremes clipped to the observer's clip: what `prepareBatch` does after `checkBatch`, for
   * an observer that measures a batch in parts.
   */
  protected measureBatch(data: Float32Array, layout: GroupLayout): PreparedBatch {
    let values = data;
    // The kernels skip NaN without a word; counted here so that calibration can say how much
    // of its data it left out.
    this.nans += countNonFinite(values).nan;
    let min = new Float32Array(layout.groups).fill(Number.POSITIVE_INFINITY);
    let max = new Float32Array(layout.groups).fill(Number.NEGATIVE_INFINITY);
    this.backend.minMax(values, layout, min, max);
    if (rangeHoldsInfinity(min, max)) {
      const cleaned = replaceInfinities(values);
      values = cleaned.data;
      this.infinities += cleaned.count;
      min = new Float32Array(layout.groups).fill(Number.POSITIVE_INFINITY);
      max = new Float32Array(layout.groups).fill(Number.NEGATIVE_INFINITY);
      this.backend.minMax(values, layout, min, max);
    }
    const clip = this.config.clip;
    if (clip) {
      // The batch as the readers see it: the data is left as it is, and each kind counts values
      // beyond an end at that end (a histogram in the end's bin).
      const lo = clip.min ?? Number.NEGATIVE_INFINITY;
      const hi = clip.max ?? Number.POSITIVE_INFINITY;
      for (let g = 0; g < min.length; g++) {
        if (!(min[g]! <= max[g]!)) continue;
        min[g] = Math.min(Math.max(min[g]!, lo), hi);
        max[g] = Math.min(Math.max(max[g]!, lo), hi);
      }
    }
    return { layout, data: values, min, max };
  }

  /** The config fields every kind saves: granularity, context and, when set, clip. */
  protected baseConfigJSON(): Record<string, unknown> {
    const { granularity, context, clip } = this.config;
    return { granularity, context, ...(clip ? { clip } : {}) };
  }

  /** Throws unless `other` has this kind and configuration and a compatible group count. */
  protected checkMergeable(other: Observer): void {
    if (
      other.kind !== this.kind ||
      JSON.stringify(other.toJSON().config) !== JSON.stringify(this.configJSON())
    ) {
      throw new QgrainError(
        'invalid-argument',
        `${this.where()}: cannot merge a '${other.method}' observer (${JSON.stringify(other.config.granularity)}) ` +
          `into a '${this.method}' observer (${JSON.stringify(this.config.granularity)}); merge observers built with the same method and options`,
      );
    }
    if (this.groupCount !== undefined && other.groups !== undefined && other.groups !== this.groupCount) {
      throw new QgrainError(
        'shape-mismatch',
        `${this.where()}: cannot merge an observer with ${other.groups} groups (shape ${formatShape(other.shape ?? [])}) ` +
          `into one with ${this.groupCount} groups (shape ${formatShape(this.firstShape ?? [])}); both must observe the same tensor`,
      );
    }
  }

  /** Adopts the other's shape and counters during a merge (after `checkMergeable`). */
  protected mergeBookkeeping(other: ObserverBase): void {
    this.firstShape ??= other.firstShape ? [...other.firstShape] : undefined;
    this.groupCount ??= other.groupCount;
    this.batchCount += other.batchCount;
    this.infinities += other.infinities;
  }

  /** Restores the shared counters from saved state. */
  protected restoreBookkeeping(state: Record<string, unknown>): void {
    this.firstShape = expectShape(state['shape'], 'state.shape');
    this.groupCount =
      state['groups'] === undefined ? undefined : expectCount(state['groups'], 'state.groups');
    this.batchCount = expectCount(state['batches'], 'state.batches');
    this.infinities = expectCount(state['nonFinite'], 'state.nonFinite');
  }

  toJSON(): ObserverJSON {
    const doc: ObserverJSON = {
      format: OBSERVER_JSON_FORMAT,
      version: OBSERVER_JSON_VERSION,
      kind: this.kind,
      ...(this.name === undefined ? {} : { name: this.name }),
      config: this.configJSON(),
      state: {
        ...(this.firstShape === undefined ? {} : { shape: [...this.firstShape] }),
        ...(this.groupCount === undefined ? {} : { groups: this.groupCount }),
        batches: this.batchCount,
        nonFinite: this.infinities,
        ...this.stateJSON(),
      },
    };
    return doc;
  }
}

/** Checks the envelope of a saved observer and returns its parts. */
export function readObserverJSON(
  json: unknown,
  expectedKind?: ObserverKind,
): {
  kind: ObserverKind;
  name: string | undefined;
  config: Record<string, unknown>;
  state: Record<string, unknown>;
} {
  const doc = expectRecord(json, 'the document');
  if (doc['format'] !== OBSERVER_JSON_FORMAT || doc['version'] !== OBSERVER_JSON_VERSION) {
    throw new QgrainError(
      'invalid-argument',
      `not a saved observer: expected format '${OBSERVER_JSON_FORMAT}' version ${OBSERVER_JSON_VERSION}, ` +
        `got ${JSON.stringify(doc['format'])} version ${JSON.stringify(doc['version'])}`,
    );
  }
  const kind = doc['kind'];
  if (kind !== 'minmax' && kind !== 'moving-average' && kind !== 'histogram') {
    throw new QgrainError('invalid-argument', `saved observer has unknown kind ${JSON.stringify(kind)}`);
  }
  if (expectedKind !== undefined && kind !== expectedKind) {
    throw new QgrainError(
      'invalid-argument',
      `saved observer is a '${kind}' observer, not '${expectedKind}'`,
    );
  }
  const name = doc['name'];
  if (name !== undefined && typeof name !== 'string')
    throw new QgrainError('invalid-argument', 'saved observer name is not a string');
  return {
    kind,
    name,
    config: expectRecord(doc['config'], 'config'),
    state: expectRecord(doc['state'], 'state'),
  };
}
