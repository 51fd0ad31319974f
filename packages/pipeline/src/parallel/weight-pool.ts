// Weights are independent: a pool of worker threads (worker_threads in Node, Web Workers in a
// browser) quantizes several at once with runWeightTask, the function the calling thread runs
// when there is no pool, while the mode edits the graph in plan order (inPlanOrder) whatever
// order the workers finish in. The output bytes are those of one thread.
//
// A worker runs this very module again (so a bundle, the single-file CLI included, needs no second
// file): started with the marker below, the module serves weight tasks instead of being a library.
import type { Initializer } from '@qgrain/onnx';
import { type Backend, QgrainError, jsBackend } from '@qgrain/tensor';
import { createWasmBackend } from '@qgrain/wasm';
import { type WeightTask, type WeightTaskResult, resultBuffers, runWeightTask } from './weight-task.js';
import {
  type ErrorReply,
  type Link,
  errorFrom,
  errorReply,
  isWorkerNamed,
  nodeThreads,
  spawnWorker,
} from './worker.js';

/** The name a weight worker is started with (Web Worker `name`, Node `workerData`). */
const WORKER_NAME = 'qgrain-weights';

/**
 * Below this many weight elements in all (64 MiB of float32), a pool is not started by default:
 * starting the workers (a thread each, loading this module and its dependencies again, compiling
 * the WASM kernels) costs 0.15 to 0.2 s on a loaded 2-core machine, about what quantizing 16M
 * elements takes on one thread there (see the README's measurements).
 */
export const MIN_PARALLEL_ELEMENTS = 1 << 24;

/** Backends a worker can make again by name (a custom Backend object cannot cross threads). */
const WORKER_BACKENDS = ['js', 'wasm'] as const;
type WorkerBackend = (typeof WORKER_BACKENDS)[number];

interface WorkerRequest {
  readonly backend: WorkerBackend;
  readonly task: WeightTask;
  readonly values: Float32Array;
}

type WorkerReply = { readonly result: WeightTaskResult } | { readonly error: ErrorReply };

/** The worker side: one task at a time, answered on the port it came from. */
function serve(port: { postMessage(message: WorkerReply, transfer: ArrayBuffer[]): void }) {
  let wasm: Promise<Backend> | undefined;
  return async (request: WorkerRequest) => {
    try {
      const backend = request.backend === 'wasm' ? await (wasm ??= createWasmBackend()) : jsBackend;
      const result = runWeightTask(request.values, request.task, backend);
      port.postMessage({ result }, resultBuffers(result));
    } catch (error) {
      port.postMessage({ error: errorReply(error) }, []);
    }
  };
}

/** True in a worker this module started: the module serves weight tasks there, and nothing else should run. */
export const isWeightWorker: boolean = isWorkerNamed(WORKER_NAME);

if (isWeightWorker) {
  if (nodeThreads) {
    const port = nodeThreads.parentPort!;
    port.on('message', serve(port));
  } else {
    const scope = self as unknown as {
      postMessage(message: WorkerReply, transfer: ArrayBuffer[]): void;
      onmessage: (event: MessageEvent<WorkerRequest>) => void;
    };
    const handle = serve(scope);
    scope.onmessage = (event) => handle(event.data);
  }
}

/** Starts a weight worker running this module, or returns undefined where the runtime has none. */
function spawn(): Link<WorkerRequest, WorkerReply> | undefined {
  return spawnWorker(import.meta.url as string | undefined, WORKER_NAME);
}

/** Quantizes weights, on this thread or on workers. */
export interface WeightPool {
  /** Tasks worth holding at once: the caller reads this many weights ahead (1 without workers). */
  readonly window: number;
  /**
   * Quantizes one weight. `borrowed`: the values are a view of the model's own bytes, so they are
   * copied to a worker; any other values are transferred (the caller's array is detached).
   */
  run(values: Float32Array, task: WeightTask, borrowed: boolean): Promise<WeightTaskResult>;
  /** Stops the workers; tasks not answered yet are rejected. */
  close(): Promise<void>;
}

/** What decides whether a pool starts. */
export interface WeightPoolOptions {
  /** Threads to quantize on (1: this thread only). */
  readonly threads: number;
  readonly backend: Backend;
  /** Weights to quantize and their elements in all. */
  readonly weights: number;
  readonly elements: number;
  /** Fewer elements than this stay on the calling thread (default MIN_PARALLEL_ELEMENTS). */
  readonly minElements?: number;
}

/** True when `values` are a view of the initializer's raw bytes (see WeightPool.run). */
export function borrowsModelBytes(values: Float32Array, init: Initializer): boolean {
  return values.buffer === init.proto.rawData?.buffer;
}

/** A pool without workers: each task runs on the calling thread when asked. */
function inlinePool(backend: Backend): WeightPool {
  return {
    window: 1,
    run: async (values, task) => runWeightTask(values, task, backend),
    close: async () => {},
  };
}

/**
 * The pool for one quantization: workers when there is more than one thread, more than one weight,
 * at least `minElements` elements, a backend a worker can make (js, wasm) and a runtime with
 * workers; otherwise the calling thread alone.
 */
export function openWeightPool(options: WeightPoolOptions): WeightPool {
  const { backend } = options;
  const threads = Math.min(options.threads, options.weights);
  const named = (WORKER_BACKENDS as readonly string[]).includes(backend.name);
  const small = options.elements < (options.minElements ?? MIN_PARALLEL_ELEMENTS);
  if (threads < 2 || small || !named || isWeightWorker) return inlinePool(backend);
  const links: Link<WorkerRequest, WorkerReply>[] = [];
  for (let i = 0; i < threads; i++) {
    const link = spawn();
    if (!link) break;
    links.push(link);
  }
  if (links.length === 0) return inlinePool(backend);
  return workerPool(links, backend.name as WorkerBackend);
}

interface Job {
  readonly request: WorkerRequest;
  readonly transfer: ArrayBuffer[];
  resolve(result: WeightTaskResult): void;
  reject(error: Error): void;
}

function workerPool(links: Link<WorkerRequest, WorkerReply>[], backend: WorkerBackend): WeightPool {
  const idle = [...links];
  const busy = new Map<Link<WorkerRequest, WorkerReply>, Job>();
  const queue: Job[] = [];
  let closed = false;
  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const link = idle.pop()!;
      const job = queue.shift()!;
      busy.set(link, job);
      link.post(job.request, job.transfer);
    }
  };
  for (const link of links) {
    link.listen(
      (reply) => {
        const job = busy.get(link)!;
        busy.delete(link);
        idle.push(link);
        if ('error' in reply) job.reject(errorFrom(reply.error));
        else job.resolve(reply.result);
        dispatch();
      },
      (error) => {
        // 'exit' follows 'error': the first of the two buries the worker.
        if (closed || !links.includes(link)) return;
        // A dead worker takes its task with it; the others carry on with the queue.
        busy.get(link)?.reject(error);
        busy.delete(link);
        links.splice(links.indexOf(link), 1);
        if (idle.includes(link)) idle.splice(idle.indexOf(link), 1);
        if (links.length === 0) for (const job of queue.splice(0)) job.reject(error);
      },
    );
  }
  return {
    window: 2 * links.length,
    run(values, task, borrowed) {
      if (closed || links.length === 0)
        return Promise.reject(new QgrainError('internal', 'the weight pool is closed'));
      // Only an array that is all of its buffer moves without taking other data along.
      const whole = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength;
      const sent = borrowed || !whole ? values.slice() : values;
      return new Promise((resolve, reject) => {
        queue.push({
          request: { backend, task, values: sent },
          transfer: [sent.buffer as ArrayBuffer],
          resolve,
          reject,
        });
        dispatch();
      });
    },
    async close() {
      closed = true;
      const stopped = new QgrainError(
        'internal',
        'the weight pool was closed before this weight was quantized',
      );
      for (const job of [...queue.splice(0), ...busy.values()]) job.reject(stopped);
      busy.clear();
      await Promise.all(links.map((link) => link.terminate()));
    },
  };
}

/**
 * Runs `start` on each item, at most `pool.window` ahead of the one being finished, and `finish`
 * on the results in the items' order. A failure surfaces when its item's turn comes, after every
 * earlier item is finished: the caller sees what one thread would have done, then the same error.
 */
export async function inPlanOrder<T>(
  items: readonly T[],
  pool: WeightPool,
  start: (item: T) => Promise<WeightTaskResult>,
  finish: (item: T, result: WeightTaskResult) => void,
): Promise<void> {
  const pending: (Promise<WeightTaskResult> | undefined)[] = [];
  let next = 0;
  for (let i = 0; i < items.length; i++) {
    for (; next < items.length && next - i < pool.window; next++) {
      const task = start(items[next]!);
      // Handled when its turn comes; until then a rejection must not count as unhandled.
      task.catch(() => {});
      pending[next] = task;
    }
    const result = await pending[i]!;
    pending[i] = undefined;
    finish(items[i]!, result);
  }
}
