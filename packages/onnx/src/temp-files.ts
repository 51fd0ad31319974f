import { rmSync } from 'node:fs';

// Temporary files being written right now. While there is any, SIGINT and SIGTERM remove them
// before the process goes: an interrupted write must not leave a full-size temporary file behind.
// (SIGKILL cannot be caught; the next write to the same path removes what it leaves.)
const active = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function removeAll(): void {
  for (const path of active) {
    try {
      rmSync(path, { force: true });
    } catch {
      // Nothing more can be done while the process is going away.
    }
  }
  active.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  uninstall();
  // With no other listener, end the way the signal would have ended us (exit status 128 + n);
  // a host that handles the signal itself decides what happens next.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', removeAll);
}

function uninstall(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off('exit', removeAll);
}

/**
 * Registers a temporary file for removal if the process is interrupted (SIGINT, SIGTERM) or
 * exits while it exists. Returns the function that unregisters it, once it is renamed or removed.
 * The handlers are installed only while some file is registered.
 */
export function removeOnSignal(path: string): () => void {
  if (active.size === 0) install();
  active.add(path);
  return () => {
    if (active.delete(path) && active.size === 0) uninstall();
  };
}
