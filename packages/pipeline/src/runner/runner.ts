import { type DType, QgrainError, Tensor } from '@qgrain/tensor';

/**
 * Runs a model on feeds: the one thing qgrain needs from an inference engine. Adapters exist for
 * onnxruntime-node and onnxruntime-web; anything else (a remote service, another runtime) can
 * implement it.
 */
export interface Runner {
  /** Runs the model; `outputs` picks which outputs to fetch (default: all graph outputs). */
  run(feeds: Readonly<Record<string, Tensor>>, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Frees the session. */
  release(): Promise<void>;
}

/** Creates a Runner for a serialized model. */
export type RunnerFactory = (model: Uint8Array) => Promise<Runner>;

/** Options of the onnxruntime adapters. */
export interface OrtRunnerOptions {
  /** Intra-op threads (default: onnxruntime's choice, all cores). */
  readonly threads?: number;
  /** Graph optimization level (default 'all', what users run). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

// The slice of onnxruntime's JS API the adapters use; onnxruntime-node and -web share it.
interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}
interface OrtSession {
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}

/**
 * What `ortRunner` accepts: the onnxruntime-node or onnxruntime-web module as imported. Their
 * overloaded constructors and `create` do not match one plain signature, so this type only asks
 * for the two names; the adapter uses the slice above, which both modules provide.
 */
export interface OrtModuleLike {
  readonly Tensor: unknown;
  readonly InferenceSession: unknown;
}

const ORT_TYPES: Partial<Record<DType, string>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  bool: 'bool',
};

function toOrt(ort: OrtModule, name: string, tensor: Tensor): OrtTensor {
  const type = ORT_TYPES[tensor.dtype];
  if (!type) {
    throw new QgrainError(
      'unsupported',
      `input '${name}' is ${tensor.dtype}, which onnxruntime's JavaScript API cannot pass`,
    );
  }
  return new ort.Tensor(type, tensor.data, [...tensor.shape]);
}

function fromOrt(name: string, tensor: OrtTensor): Tensor {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === tensor.type);
  if (!dtype) {
    throw new QgrainError(
      'unsupported',
      `output '${name}' has type ${tensor.type}, which qgrain does not read`,
    );
  }
  return new Tensor(dtype, tensor.dims, tensor.data as Tensor['data']);
}

/** A Runner over an onnxruntime module (node or web), passed as imported: `ortRunner(ort, bytes)`. */
export async function ortRunner(
  module: OrtModuleLike,
  model: Uint8Array,
  options: OrtRunnerOptions = {},
): Promise<Runner> {
  const ort = module as OrtModule;
  const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: options.optimization ?? 'all' };
  if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model, sessionOptions);
  } catch (error) {
    throw new QgrainError(
      'invalid-model',
      `onnxruntime could not load the model: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    async run(feeds, outputs) {
      const ortFeeds: Record<string, OrtTensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = toOrt(ort, name, tensor);
      let result: Record<string, OrtTensor>;
      try {
        result = await session.run(ortFeeds, outputs ?? session.outputNames);
      } catch (error) {
        // The model loaded, so the feeds are what it refused: name them with their shapes.
        const fed = Object.entries(feeds)
          .map(([name, t]) => `${name} ${t.dtype} [${t.shape.join(', ')}]`)
          .join(', ');
        throw new QgrainError(
          'invalid-argument',
          `onnxruntime could not run the model on inputs ${fed}: ${(error as Error).message}; check that the data's shapes and values suit the model`,
          { cause: error },
        );
      }
      const out: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(result)) out[name] = fromOrt(name, tensor);
      return out;
    },
    release: () => session.release(),
  };
}

async function importOptional(name: string): Promise<OrtModule> {
  try {
    const mod = (await import(name)) as OrtModule & { default?: OrtModule };
    return mod.InferenceSession ? mod : (mod.default as OrtModule);
  } catch (error) {
    throw new QgrainError(
      'unsupported',
      `running models needs the optional peer dependency '${name}'; install it next to @qgrain/pipeline (npm install ${name})`,
      { cause: error },
    );
  }
}

/** A RunnerFactory for onnxruntime-node (an optional peer dependency, loaded on first use). */
export function nodeRunnerFactory(options: OrtRunnerOptions = {}): RunnerFactory {
  return async (model) => ortRunner(await importOptional('onnxruntime-node'), model, options);
}

/** A RunnerFactory for onnxruntime-web (WebAssembly execution provider). */
export function webRunnerFactory(options: OrtRunnerOptions = {}): RunnerFactory {
  return async (model) =>
    ortRunner(await importOptional('onnxruntime-web'), model, {
      ...options,
      optimization: options.optimization ?? 'all',
    });
}
