// What the weight pool and the runner pool share: starting a worker that runs a module of this
// package again (marked by a name, so the module serves requests there instead of being a
// library), telling on a worker which name it was started with, and carrying a thrown error back.
import { QgrainError, type QgrainErrorCode, type QgrainErrorContext } from '@qgrain/tensor';

/** Node's worker_threads, where the runtime has it. */
export const nodeThreads = globalThis.process?.getBuiltinModule?.('node:worker_threads');

/** True on a worker that `spawnWorker` started with the marker `name`. */
export function isWorkerNamed(name: string): boolean {
  return nodeThreads
    ? !nodeThreads.isMainThread && nodeThreads.workerData === name
    : typeof self !== 'undefined' && (self as { name?: string }).name === name;
}

/** One worker as a pool sees it, whichever kind it is. */
export interface Link<Request, Reply> {
  post(request: Request, transfer: ArrayBuffer[]): void;
  /** Called with each reply, and with an error when the worker dies. */
  listen(onReply: (reply: Reply) => void, onDeath: (error: Error) => void): void;
  /** Stops the worker (a promise of its exit in Node). */
  terminate(): unknown;
}

/**
 * Starts a worker that runs the module at `here` again with the marker `name` (which the module
 * reads to serve requests instead of being a library), or returns undefined where the runtime has
 * no workers.
 */
export function spawnWorker<Request, Reply>(
  here: string | undefined,
  name: string,
): Link<Request, Reply> | undefined {
  if (!here) return undefined;
  if (nodeThreads) {
    // Run from the TypeScript sources (tests, tsx), the worker loads them through tsx too.
    const source = JSON.stringify(here);
    const worker = here.endsWith('.ts')
      ? new nodeThreads.Worker(`import('tsx/esm/api').then((tsx) => tsx.tsImport(${source}, ${source}))`, {
          eval: true,
          workerData: name,
        })
      : new nodeThreads.Worker(new URL(here), { workerData: name });
    return {
      post: (request, transfer) => worker.postMessage(request, transfer),
      listen(onReply, onDeath) {
        worker.on('message', onReply);
        worker.on('error', onDeath);
        worker.on('exit', (code) => onDeath(new Error(`a ${name} worker stopped (exit code ${code})`)));
      },
      terminate: () => worker.terminate(),
    };
  }
  if (typeof Worker !== 'function') return undefined;
  const worker = new Worker(new URL(here), { type: 'module', name });
  return {
    post: (request, transfer) => worker.postMessage(request, transfer),
    listen(onReply, onDeath) {
      worker.onmessage = (event: MessageEvent<Reply>) => onReply(event.data);
      worker.onerror = (event) => onDeath(new Error(`a ${name} worker failed: ${event.message}`));
    },
    terminate: () => worker.terminate(),
  };
}

/** A thrown error as it crosses back: a QgrainError keeps its code and context fields. */
export interface ErrorReply {
  readonly message: string;
  readonly qgrain?: { readonly code: QgrainErrorCode } & QgrainErrorContext;
}

export function errorReply(error: unknown): ErrorReply {
  if (!QgrainError.isInstance(error))
    return { message: error instanceof Error ? error.message : String(error) };
  const { code, file, node, tensor, value, option } = error;
  const context = { file, node, tensor, option };
  // `value` is anything the thrower put there; it crosses only when structured clone takes it.
  let cloneable = value !== undefined;
  try {
    if (cloneable) structuredClone(value);
  } catch {
    cloneable = false;
  }
  return { message: error.message, qgrain: { code, ...context, ...(cloneable ? { value } : {}) } };
}

/** The caller's copy of a worker's error: the same QgrainError (code, message, context) it threw. */
export function errorFrom(reply: ErrorReply): Error {
  if (!reply.qgrain) return new Error(reply.message);
  const { code, ...context } = reply.qgrain;
  const options = Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined));
  return new QgrainError(code, reply.message, options);
}
