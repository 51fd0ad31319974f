import { describe, expect, it } from 'vitest';
import { jobQueue } from './job-queue.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jobQueue', () => {
  it('runs the jobs in the order added, never more than its lanes at once', async () => {
    const queue = jobQueue(3);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    for (let i = 0; i < 10; i++)
      queue.add(async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await tick(5 + (i % 3) * 3);
        running--;
      });
    await queue.idle();
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
    expect(running).toBe(0);
    // Jobs added after it went idle run too.
    let late = false;
    queue.add(async () => {
      late = true;
    });
    await queue.idle();
    expect(late).toBe(true);
  });

  it('throws the first failure, drops the jobs not started and lets the started ones finish', async () => {
    const queue = jobQueue(2);
    const finished: number[] = [];
    queue.add(async () => {
      await tick(20);
      finished.push(0);
    });
    queue.add(async () => {
      await tick(2);
      throw new Error('run 1 failed');
    });
    for (let i = 2; i < 6; i++)
      queue.add(async () => {
        finished.push(i);
      });
    await expect(queue.idle()).rejects.toThrow('run 1 failed');
    await queue.settled();
    expect(finished).toEqual([0]);
  });

  it('is idle at once with nothing to do', async () => {
    await expect(jobQueue(1).idle()).resolves.toBeUndefined();
  });
});
