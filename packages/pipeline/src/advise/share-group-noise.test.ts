import { describe, expect, it } from 'vitest';
import { shareGroupNoise } from './advise.js';

describe('shareGroupNoise', () => {
  it('shares each output out by own noise times the gain measured alone, adding up to the group', () => {
    // Member 0: alone, own noise 4 made output noise [8, 1] (gains 2, 0.25); its finest option has
    // own noise 1, so [2, 0.25] predicted. Member 1: gains [1, 1] (two options alone), finest own
    // noise 2: [2, 2] predicted.
    const shares = shareGroupNoise(
      [10, 4],
      [
        { alone: [{ noise: [8, 1], local: 4 }], local: 1 },
        {
          alone: [
            { noise: [3, 3], local: 3 },
            { noise: [1, 1], local: 1 },
          ],
          local: 2,
        },
      ],
    );
    expect(shares[0]![0]).toBeCloseTo(5);
    expect(shares[1]![0]).toBeCloseTo(5);
    expect(shares[0]![1]).toBeCloseTo((4 * 0.25) / 2.25);
    expect(shares[1]![1]).toBeCloseTo((4 * 2) / 2.25);
    for (let k = 0; k < 2; k++) expect(shares[0]![k]! + shares[1]![k]!).toBeCloseTo([10, 4][k]!);
  });

  it('falls back to own noise, then to even shares, where nothing predicts an output', () => {
    // No member's options alone moved the output: own noise decides.
    expect(
      shareGroupNoise(
        [6],
        [
          { alone: [{ noise: [0], local: 1 }], local: 1 },
          { alone: [{ noise: [0], local: 1 }], local: 2 },
        ],
      ),
    ).toEqual([[2], [4]]);
    // And without own noise either, evenly.
    expect(
      shareGroupNoise(
        [6],
        [
          { alone: [{ noise: [0], local: 0 }], local: 0 },
          { alone: [{ noise: [0], local: 0 }], local: 0 },
        ],
      ),
    ).toEqual([[3], [3]]);
  });
});
