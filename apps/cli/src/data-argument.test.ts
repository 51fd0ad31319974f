import { describe, expect, it } from 'vitest';
import { parseDataArgument } from './data-argument.js';
import { UsageError } from './exit.js';

describe('--data values', () => {
  it('splits input=path and keeps bare paths (a name with a path separator is a path)', () => {
    expect(parseDataArgument('x=calib/rec.npy.gz')).toEqual({ inputName: 'x', path: 'calib/rec.npy.gz' });
    expect(parseDataArgument('calib.npz')).toEqual({ path: 'calib.npz' });
    expect(parseDataArgument('./odd=name.npy')).toEqual({ path: './odd=name.npy' });
  });

  it('reads random data with its seed, count and symbolic dims, for all inputs or a named one', () => {
    expect(parseDataArgument('random:seed=3,count=4')).toEqual({ random: { seed: 3, count: 4 } });
    expect(parseDataArgument('random:seed=1,sequence=512')).toEqual({
      random: { seed: 1, dims: { sequence: 512 } },
    });
    expect(parseDataArgument('state=random:seed=2')).toEqual({ inputName: 'state', random: { seed: 2 } });
  });

  it('reads a value range and a whole input shape (for dims without a name)', () => {
    expect(parseDataArgument('input=random:seed=1,range=-1..1,shape=1x512')).toEqual({
      inputName: 'input',
      random: { seed: 1, low: -1, high: 1, shape: [1, 512] },
    });
    expect(parseDataArgument('sr=random:seed=1,range=16000..16000')).toEqual({
      inputName: 'sr',
      random: { seed: 1, low: 16000, high: 16000 },
    });
    expect(parseDataArgument('random:seed=1,range=-2.5e-1..0.5')).toEqual({
      random: { seed: 1, low: -0.25, high: 0.5 },
    });
  });

  it('refuses malformed values as usage errors (exit 2), naming what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /needs a path/],
      ['x=', /names an input but no path/],
      ['random', /explicit integer seed/],
      ['random:seed=1.5', /explicit integer seed/],
      ['random:seed=1,count=0', /count must be a positive integer/],
      ['random:seed=1,sequence=big', /'sequence=big' must size a symbolic input dim/],
      ['random:seed=1,range=1..-1', /range must be LO..HI with LO <= HI/],
      ['random:seed=1,range=0-1', /range must be LO..HI/],
      ['random:seed=1,shape=1x0', /shape must be sizes joined by x/],
      ['random:seed=1,shape=1xa', /shape must be sizes joined by x/],
    ];
    for (const [text, message] of cases) {
      let caught: unknown;
      try {
        parseDataArgument(text);
      } catch (error) {
        caught = error;
      }
      expect(caught, text).toBeInstanceOf(UsageError);
      expect((caught as Error).message, text).toMatch(message);
    }
  });
});
