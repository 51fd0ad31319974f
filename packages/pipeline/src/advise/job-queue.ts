// A queue of async jobs run a few at once: the advisor's switchboard runs, which boards join as
// they are made.

/**
 * Runs async jobs, at most `lanes` at once, in the order they were added. `idle()` waits until
 * every job added so far is done and throws the first failure (the jobs not yet started are then
 * dropped); `settled()` waits for the jobs under way whatever happened.
 */
export function jobQueue(lanes: number): {
  add(job: () => Promise<void>): void;
  idle(): Promise<void>;
  settled(): Promise<void>;
} {
  const pending: (() => Promise<void>)[] = [];
  let running = 0;
  let failure: { error: unknown } | undefined;
  let waiters: (() => void)[] = [];
  const pump = (): void => {
    while (running < lanes && pending.length > 0 && !failure) {
      const job = pending.shift()!;
      running++;
      job()
        .catch((error: unknown) => {
          failure ??= { error };
          pending.length = 0;
        })
        .finally(() => {
          running--;
          pump();
          if (running === 0 && (pending.length === 0 || failure)) {
            const wake = waiters;
            waiters = [];
            for (const w of wake) w();
          }
        });
    }
  };
  const settled = (): Promise<void> =>
    running === 0 && (pending.length === 0 || failure)
      ? Promise.resolve()
      : new Promise((r) => waiters.push(r));
  return {
    add(job) {
      if (failure) return;
      pending.push(job);
      pump();
    },
    async idle() {
      await settled();
      if (failure) throw failure.error;
    },
    settled,
  };
}
