import { describe, expect, it } from 'vitest';
import { type Choice, choose, firstUpgrades, worstSqnrDb } from './choose.js';

// A weight-like choice: a cheap noisy option and a dearer clean one.
function weight(tensor: string, cheapNoise: number, dearNoise: number, bytes = 100): Choice {
  return {
    tensor,
    options: [
      { label: 'per-tensor', noise: [cheapNoise], bytes, latencyMs: 0 },
      { label: 'per-channel', noise: [dearNoise], bytes: bytes + 10, latencyMs: 0 },
    ],
  };
}

// An activation whose float option takes it off the integer kernels (its latency is its groups').
function slowFloat(tensor: string, noise: number): Choice {
  return {
    tensor,
    options: [
      { label: 'uint8', noise: [noise], bytes: 0, latencyMs: 0 },
      { label: 'float', noise: [0], bytes: 0, latencyMs: 0, slow: true },
    ],
  };
}

const SIGNAL = [1000];
const scale = { bytes: 1000, latencyMs: 10 };

/** Predicted SQNR of a set of picks, summed independently of `choose`. */
function sqnrOf(choices: readonly Choice[], picks: readonly number[]): number {
  const noise = choices.reduce((sum, c, t) => sum + c.options[picks[t]!]!.noise[0]!, 0);
  return worstSqnrDb(SIGNAL, [noise]);
}

describe('choose', () => {
  it('keeps every tensor on its cheapest option when that meets the target', () => {
    const choices = [weight('a', 0.001, 0.0001), weight('b', 0.002, 0.0001)];
    const d = choose(choices, SIGNAL, { targetSqnrDb: 40 }, scale);
    expect(d.picks).toEqual([0, 0]);
    expect(d.met).toBe(true);
    expect(d.sqnrDb).toBeCloseTo(sqnrOf(choices, d.picks), 10);
  });

  it('upgrades exactly the tensors whose cheap option breaks the target', () => {
    // 10 log10(1000 / 0.5) = 33 dB: tensor 'b' alone breaks a 40 dB target, the others do not.
    const choices = [weight('a', 0.001, 0.0001), weight('b', 0.5, 0.0001), weight('c', 0.002, 0.0001)];
    const d = choose(choices, SIGNAL, { targetSqnrDb: 40 }, scale);
    expect(d.picks).toEqual([0, 1, 0]);
    expect(sqnrOf(choices, d.picks)).toBeGreaterThanOrEqual(40);
  });

  it('leaves no upgrade the target does not need (each one, undone, breaks it)', () => {
    const choices = Array.from({ length: 12 }, (_, i) =>
      weight(`w${i}`, 0.01 * (i + 1), 0.0005, 100 + i * 7),
    );
    const target = 42;
    const d = choose(choices, SIGNAL, { targetSqnrDb: target }, scale);
    expect(d.met).toBe(true);
    expect(sqnrOf(choices, d.picks)).toBeGreaterThanOrEqual(target);
    const upgraded = d.picks.map((p, t) => (p === 1 ? t : -1)).filter((t) => t >= 0);
    expect(upgraded.length).toBeGreaterThan(0);
    expect(upgraded.length).toBeLessThan(choices.length);
    for (const t of upgraded) {
      const undone = d.picks.map((p, k) => (k === t ? 0 : p));
      expect(sqnrOf(choices, undone)).toBeLessThan(target);
    }
  });

  it('says when the target is out of reach, with every tensor on its cleanest option', () => {
    const choices = [weight('a', 1, 0.9), weight('b', 1, 0.9)];
    const d = choose(choices, SIGNAL, { targetSqnrDb: 60 }, scale);
    expect(d.met).toBe(false);
    expect(d.picks).toEqual([1, 1]);
  });

  it('spends a size cap on the noise removed per byte, and never passes it', () => {
    const choices = [
      weight('a', 0.5, 0.001, 100),
      weight('b', 0.05, 0.001, 100),
      weight('c', 0.3, 0.001, 100),
    ];
    // Room for two upgrades of 10 bytes: the two noisiest weights take them.
    const d = choose(choices, SIGNAL, { maxBytes: 320 }, scale);
    expect(d.bytes).toBeLessThanOrEqual(320);
    expect(d.picks).toEqual([1, 0, 1]);
  });

  it('takes a free upgrade (a better calibrator at the same cost) first', () => {
    const activation: Choice = {
      tensor: 'x',
      options: [
        { label: 'uint8 minmax', noise: [0.3], bytes: 0, latencyMs: 0 },
        { label: 'uint8 mse', noise: [0.01], bytes: 0, latencyMs: 0 },
        { label: 'float', noise: [0], bytes: 0, latencyMs: 2 },
      ],
    };
    const d = choose([activation], SIGNAL, { targetSqnrDb: 40 }, scale);
    expect(d.picks).toEqual([1]);
  });

  it('keeps added latency under a cap even when the target is then missed', () => {
    const activation = (tensor: string, ms: number): Choice => ({
      tensor,
      options: [
        { label: 'uint8', noise: [0.5], bytes: 0, latencyMs: 0 },
        { label: 'float', noise: [0], bytes: 0, latencyMs: ms },
      ],
    });
    const choices = [activation('x', 3), activation('y', 3), activation('z', 3)];
    const d = choose(choices, SIGNAL, { targetSqnrDb: 60, maxLatencyMs: 7 }, scale);
    expect(d.latencyMs).toBeLessThanOrEqual(7);
    expect(d.picks.filter((p) => p === 1)).toHaveLength(2);
    expect(d.met).toBe(false);
  });

  it('charges a node that runs slow once, whichever of its tensors made it slow', () => {
    // x and y are the input and output of one convolution (group 0, 5 ms); z and w of another
    // (group 1, 5 ms). Leaving x float makes the first convolution float; y then costs nothing more.
    const choices = [slowFloat('x', 0.3), slowFloat('y', 0.3), slowFloat('z', 0.2), slowFloat('w', 0.2)];
    const groups = [
      { members: [0, 1], latencyMs: 5 },
      { members: [2, 3], latencyMs: 5 },
    ];
    const d = choose(choices, SIGNAL, { targetSqnrDb: 60, maxLatencyMs: 6 }, scale, groups);
    expect(d.picks).toEqual([1, 1, 0, 0]);
    expect(d.latencyMs).toBe(5);
    // With room for both convolutions, every tensor goes float for 10 ms, not 4 x 5.
    const wide = choose(choices, SIGNAL, { targetSqnrDb: 60, maxLatencyMs: 12 }, scale, groups);
    expect(wide.picks).toEqual([1, 1, 1, 1]);
    expect(wide.latencyMs).toBe(10);
  });

  it('counts every group a slow tensor is in', () => {
    // y feeds two convolutions and is the output of a third: float costs all three.
    const choices: Choice[] = [
      {
        tensor: 'y',
        options: [
          { label: 'uint8', noise: [0.5], bytes: 0, latencyMs: 0 },
          { label: 'float', noise: [0], bytes: 0, latencyMs: 1, slow: true },
        ],
      },
    ];
    const groups = [
      { members: [0], latencyMs: 2 },
      { members: [0], latencyMs: 3 },
      { members: [0], latencyMs: 4 },
    ];
    expect(choose(choices, SIGNAL, { targetSqnrDb: 60, maxLatencyMs: 9 }, scale, groups).picks).toEqual([0]);
    const d = choose(choices, SIGNAL, { targetSqnrDb: 60, maxLatencyMs: 10 }, scale, groups);
    expect(d.picks).toEqual([1]);
    expect(d.latencyMs).toBe(10);
  });

  it('replays the first upgrades of a decision, counted as the search counts them', () => {
    const choices = [slowFloat('x', 0.3), slowFloat('y', 0.2), slowFloat('z', 0.1), weight('w', 0.4, 0.01)];
    const groups = [
      { members: [0, 1], latencyMs: 4 },
      { members: [2], latencyMs: 3 },
    ];
    const budget = { targetSqnrDb: 60, maxLatencyMs: 100 };
    const d = choose(choices, SIGNAL, budget, scale, groups);
    expect(d.upgrades.length).toBe(4);
    const all = firstUpgrades(d, d.upgrades.length, choices, SIGNAL, budget, groups);
    expect(all.picks).toEqual(d.picks);
    expect(all.latencyMs).toBe(d.latencyMs);
    expect(all.sqnrDb).toBeCloseTo(d.sqnrDb, 10);
    const none = firstUpgrades(d, 0, choices, SIGNAL, budget, groups);
    expect(none.picks).toEqual(d.start);
    expect(none.latencyMs).toBe(0);
    for (let k = 1; k < d.upgrades.length; k++) {
      const some = firstUpgrades(d, k, choices, SIGNAL, budget, groups);
      expect(some.path).toEqual(d.path.slice(0, k + 1));
      expect(some.latencyMs).toBe(d.path[k]!.latencyMs);
      expect(some.sqnrDb).toBeCloseTo(sqnrOf(choices, some.picks), 10);
    }
  });
});
