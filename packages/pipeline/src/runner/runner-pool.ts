// Several onnxruntime-node sessions of one model, each on a worker thread of its own with one
// intra-op thread. A model run is mostly a chain of small kernels that two intra-op threads do not
// keep busy, so runs issued together (Promise.all over independent feeds) finish sooner on two
// single-threaded sessions than one after another on one two-threaded session. The advisor's
// switchboard runs are such runs: hundreds of them, each with one switch on.
//
// A worker runs this very module again (as the weight pool's workers do), so the single-file CLI
// needs no second file.
import { type DType, QgrainError, Tensor } from '@qgrain/tensor';
import {
  type ErrorReply,
  type Link,
  errorFrom,
  errorReply,
  isWorkerNamed,
  nodeThreads,
  spawnWorker,
} from '../parallel/worker.js';
import { type OrtRunnerOptions, type Runner, type RunnerFactory, nodeRunnerFactory } from './runner.js';

/** The name a runner worker is started with. */
const WORKER_NAME = 'qgrain-runner';

/** Requests a worker holds at once: the one it runs and the next. */
const PIPELINE_DEPTH = 2;

/** A tensor as it crosses between threads. */
interface PlainTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Tensor['data'];
}

type Request =
  | {
      readonly kind: 'load';
      readonly id: number;
      readonly model: Uint8Array;
      readonly options: OrtRunnerOptions;
    }
  | {
      readonly kind: 'run';
      readonly id: number;
      readonly feeds: Readonly<Record<string, PlainTensor>>;
      readonly outputs?: readonly string[];
    }
  | { readonly kind: 'release'; readonly id: number };

type Reply = { readonly result?: Record<string, PlainTensor> } | { readonly error: ErrorReply };

const plain = (t: Tensor): PlainTensor => ({ dtype: t.dtype, shape: [...t.shape], data: t.data });
const revive = (t: PlainTensor): Tensor => new Tensor(t.dtype, [...t.shape], t.data);

/** True in a worker this module started: it serves model runs there, and nothing else should run. */
export const isRunnerWorker: boolean = isWorkerNamed(WORKER_NAME);

if (isRunnerWorker) {
  const port = nodeThreads!.parentPort!;
  const sessions = new Map<number, Runner>();
  // One request at a time, in the order they came: a run waits for its model's load.
  let chain = Promise.resolve();
  const handle = async (request: Request) => {
    try {
      if (request.kind === 'load') {
        sessions.set(request.id, await nodeRunnerFactory(request.options)(request.model));
        port.postMessage({});
      } else if (request.kind === 'release') {
        await sessions.get(request.id)?.release();
        sessions.delete(request.id);
        port.postMessage({});
      } else {
        const session = sessions.get(request.id);
        if (!session) throw new QgrainError('internal', `runner worker: no session ${request.id}`);
        const feeds = Object.fromEntries(Object.entries(request.feeds).map(([k, t]) => [k, revive(t)]));
        const out = await session.run(feeds, request.outputs);
        const result = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, plain(t)]));
        const transfer = Object.values(result).map((t) => t.data.buffer as ArrayBuffer);
        port.postMessage({ result }, [...new Set(transfer)]);
      }
    } catch (error) {
      port.postMessage({ error: errorReply(error) });
    }
  };
  port.on('message', (request: Request) => {
    chain = chain.then(() => handle(request));
  });
}

/** Sessions on worker threads, for runs issued together; see the file comment. */
export interface RunnerPool {
  /** Loads a model on every worker; the Runner sends each run to a free one. */
  readonly factory: RunnerFactory;
  /** How many runs go at once (one per worker). */
  readonly size: number;
  /**
   * How many runs to issue together to keep every worker busy: each holds its next run while it
   * works on one.
   */
  readonly runsAtOnce: number;
  /** Stops the workers. */
  close(): Promise<void>;
}

interface Job {
  readonly request: Request;
  readonly transfer: ArrayBuffer[];
  resolve(reply: Reply & { result?: Record<string, PlainTensor> }): void;
  reject(error: Error): void;
}

/**
 * Starts `workers` runner workers (each session on `options.threads`, default 1, intra-op
 * threads). Where workers cannot start (no worker_threads, or a runtime without
 * `import.meta.url`), or `workers` is below 2, the pool is one in-process session per model with
 * `size` 1.
 */
export function openRunnerPool(workers: number, options: OrtRunnerOptions = {}): RunnerPool {
  const sessionOptions: OrtRunnerOptions = { ...options, threads: options.threads ?? 1 };
  const links: Link<Request, Reply>[] = [];
  if (workers >= 2 && !isRunnerWorker) {
    for (let i = 0; i < workers; i++) {
      const link = spawnWorker<Request, Reply>(import.meta.url as string | undefined, WORKER_NAME);
      if (!link) break;
      links.push(link);
    }
  }
  if (links.length < 2) {
    for (const link of links) link.terminate();
    return { factory: nodeRunnerFactory(options), size: 1, runsAtOnce: 1, close: async () => {} };
  }
  // Each worker answers its requests in order, one at a time. A worker is given its next run
  // while it still works on one (PIPELINE_DEPTH requests at most), so that it starts the next
  // as soon as it is done rather than after a round trip to this thread.
  const waiting = links.map(() => [] as Job[]);
  const queue: Job[] = [];
  let dead: Error | undefined;
  const post = (w: number, job: Job) => {
    waiting[w]!.push(job);
    links[w]!.post(job.request, job.transfer);
  };
  const dispatch = () => {
    while (queue.length > 0) {
      // The least busy worker with room.
      let w = -1;
      for (let i = 0; i < links.length; i++)
        if (waiting[i]!.length < PIPELINE_DEPTH && (w < 0 || waiting[i]!.length < waiting[w]!.length)) w = i;
      if (w < 0) return;
      post(w, queue.shift()!);
    }
  };
  links.forEach((link, w) => {
    link.listen(
      (reply) => {
        const job = waiting[w]!.shift()!;
        if ('error' in reply) job.reject(errorFrom(reply.error));
        else job.resolve(reply);
        dispatch();
      },
      (error) => {
        if (dead) return;
        dead = error;
        for (const job of [...queue.splice(0), ...waiting.flatMap((q) => q.splice(0))]) job.reject(error);
      },
    );
  });
  // Load and release go to every worker, not through the queue.
  const everywhere = (request: Request, transfer: (w: number) => ArrayBuffer[] = () => []) =>
    Promise.all(
      links.map(
        (_, w) =>
          new Promise<unknown>((resolve, reject) => {
            if (dead) reject(dead);
            else post(w, { request, transfer: transfer(w), resolve, reject });
          }),
      ),
    );
  let nextId = 0;
  const factory: RunnerFactory = async (model) => {
    const id = nextId++;
    await everywhere({ kind: 'load', id, model, options: sessionOptions });
    return {
      run(feeds, outputs) {
        if (dead) return Promise.reject(dead);
        const request: Request = {
          kind: 'run',
          id,
          feeds: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, plain(t)])),
          ...(outputs ? { outputs } : {}),
        };
        return new Promise((resolve, reject) => {
          queue.push({
            request,
            transfer: [],
            resolve: (reply) =>
              resolve(Object.fromEntries(Object.entries(reply.result!).map(([k, t]) => [k, revive(t)]))),
            reject,
          });
          dispatch();
        });
      },
      release: async () => {
        await everywhere({ kind: 'release', id });
      },
    };
  };
  return {
    factory,
    size: links.length,
    runsAtOnce: links.length * PIPELINE_DEPTH,
    async close() {
      dead ??= new QgrainError('internal', 'the runner pool is closed');
      await Promise.all(links.map((link) => link.terminate()));
    },
  };
}
