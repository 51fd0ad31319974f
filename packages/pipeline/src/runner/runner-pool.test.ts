import { readFileSync } from 'node:fs';
import { QgrainError, Tensor } from '@qgrain/tensor';
import { randomFloat32, realModel } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import { openRunnerPool } from './runner-pool.js';
import { nodeRunnerFactory } from './runner.js';

// The pool's sessions run on worker threads; what comes back must be what an in-process session
// with the same settings (one intra-op thread) gives for the same feeds, whichever worker ran it.

const cls = () => new Uint8Array(readFileSync(realModel('ppocr-cls').path));

function feeds(count: number): Record<string, Tensor>[] {
  return Array.from({ length: count }, (_, k) => ({
    x: new Tensor('float32', [1, 3, 48, 192], randomFloat32(3 * 48 * 192, 100 + k)),
  }));
}

describe('openRunnerPool', () => {
  it('runs feeds issued together on two workers, with the outputs of an in-process session', async () => {
    const pool = openRunnerPool(2);
    expect(pool.size).toBe(2);
    const inputs = feeds(6);
    try {
      const runner = await pool.factory(cls());
      const together = await Promise.all(inputs.map((f) => runner.run(f)));
      const local = await nodeRunnerFactory({ threads: 1 })(cls());
      for (const [k, f] of inputs.entries()) {
        const expected = await local.run(f);
        expect(Object.keys(together[k]!)).toEqual(Object.keys(expected));
        for (const [name, t] of Object.entries(expected)) {
          expect(together[k]![name]!.shape).toEqual(t.shape);
          expect(together[k]![name]!.toFloat32()).toEqual(t.toFloat32());
        }
      }
      await local.release();
      // A second model on the same workers, while the first is still loaded.
      const second = await pool.factory(cls());
      const again = await second.run(inputs[0]!);
      expect(again).toEqual(together[0]);
      await second.release();
      await runner.release();
    } finally {
      await pool.close();
    }
  });

  it("brings a worker's error back as the same QgrainError, and keeps serving", async () => {
    const pool = openRunnerPool(2);
    try {
      const runner = await pool.factory(cls());
      const wrong = { x: new Tensor('float32', [1, 3, 5], new Float32Array(15)) };
      const error = await runner.run(wrong).catch((e: unknown) => e);
      expect(QgrainError.isInstance(error)).toBe(true);
      expect((error as QgrainError).code).toBe('invalid-argument');
      expect((error as Error).message).toContain('x float32 [1, 3, 5]');
      const out = await runner.run(feeds(1)[0]!);
      expect(Object.keys(out).length).toBeGreaterThan(0);
      const refused = await pool.factory(new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
      expect((refused as QgrainError).code).toBe('invalid-model');
    } finally {
      await pool.close();
    }
    await expect(pool.factory(cls())).rejects.toThrow('closed');
  });

  it('is one in-process session per model below two workers', async () => {
    const pool = openRunnerPool(1);
    expect(pool.size).toBe(1);
    const runner = await pool.factory(cls());
    const out = await runner.run(feeds(1)[0]!);
    expect(Object.keys(out).length).toBeGreaterThan(0);
    await runner.release();
    await pool.close();
  });
});
