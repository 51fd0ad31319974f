import { sqnr } from '@qgrain/granularity';
import { type NodeInit, createModel, serializeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';
import { SeededRandom, randomFloat32 } from '@qgrain/test-harness';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { FeedSource } from '../calibrate/calibrate.js';
import { quantize } from '../quantize.js';
import { nodeRunnerFactory } from '../runner/runner.js';
import { readerSaturation } from './saturation.js';

const scalar = (v: number) => new Tensor('float32', [], Float32Array.of(v));

/** x -> Conv -> c, then the given readers of c; their values named y and z are graph outputs. */
function convThen(readers: NodeInit[], opset = 14) {
  const rng = new SeededRandom(3);
  const outputs = readers.flatMap((r) => r.outputs).filter((o) => o === 'y' || o === 'z');
  return createModel({
    opset,
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 3, 8, 8] }],
    outputs: outputs.map((name) => ({ name, dtype: 'float32', shape: [1, 4, 8, 8] })),
    initializers: {
      w: new Tensor(
        'float32',
        [4, 3, 3, 3],
        Float32Array.from({ length: 108 }, () => rng.normal()),
      ),
      three: scalar(3),
      two: scalar(2),
      zero: scalar(0),
      six: scalar(6),
      sixth: scalar(1 / 6),
    },
    nodes: [
      {
        name: 'conv',
        opType: 'Conv',
        inputs: ['x', 'w'],
        outputs: ['c'],
        attributes: { pads: [1, 1, 1, 1] },
      },
      ...readers,
    ],
  });
}

// HardSwish the way exporters write it out: c * clip(c + 3, 0, 6) / 6.
const spelled = (plus: string): NodeInit[] => [
  { opType: 'Add', inputs: ['c', plus], outputs: ['c3'] },
  { opType: 'Clip', inputs: ['c3', 'zero', 'six'], outputs: ['gate'] },
  { opType: 'Mul', inputs: ['c', 'gate'], outputs: ['m'] },
  { opType: 'Mul', inputs: ['m', 'sixth'], outputs: ['y'] },
];

describe('readerSaturation', () => {
  it.each([
    ['HardSwish', [{ opType: 'HardSwish', inputs: ['c'], outputs: ['y'] }], { min: -3, by: 'HardSwish' }],
    ['HardSwish spelled out', spelled('three'), { min: -3, by: 'HardSwish (Add/Clip/Mul/Div)' }],
    [
      'x * HardSigmoid(x)',
      [
        { opType: 'HardSigmoid', inputs: ['c'], outputs: ['gate'], attributes: { alpha: 0.25, beta: 0.5 } },
        { opType: 'Mul', inputs: ['gate', 'c'], outputs: ['y'] },
      ],
      { min: -2, by: 'HardSwish (x * HardSigmoid(x))' },
    ],
    [
      'HardSigmoid',
      [{ opType: 'HardSigmoid', inputs: ['c'], outputs: ['y'], attributes: { alpha: 0.25, beta: 0.5 } }],
      { min: -2, max: 2, by: 'HardSigmoid' },
    ],
    [
      'Clip with constant ends',
      [{ opType: 'Clip', inputs: ['c', 'zero', 'six'], outputs: ['y'] }],
      { min: 0, max: 6, by: 'Clip' },
    ],
    [
      'Relu and HardSwish: the interval that covers both',
      [
        { opType: 'Relu', inputs: ['c'], outputs: ['y'] },
        { opType: 'HardSwish', inputs: ['c'], outputs: ['z'] },
      ],
      { min: -3, by: 'Relu, HardSwish' },
    ],
  ] as const)('%s', (_, readers, expected) => {
    const model = convThen([...readers]);
    expect(readerSaturation(model.graph, 'c')).toEqual(expected);
  });

  it.each([
    ['a reader that uses every value', [{ opType: 'Sigmoid', inputs: ['c'], outputs: ['y'] }]],
    [
      'a HardSwish next to another reader',
      [
        { opType: 'HardSwish', inputs: ['c'], outputs: ['y'] },
        { opType: 'Neg', inputs: ['c'], outputs: ['z'] },
      ],
    ],
    ['x * clip(x + 2, 0, 6), not a HardSwish', spelled('two')],
    [
      'a HardSigmoid gate that another node reads too',
      [
        { opType: 'HardSigmoid', inputs: ['c'], outputs: ['gate'] },
        { opType: 'Mul', inputs: ['gate', 'c'], outputs: ['y'] },
        { opType: 'Neg', inputs: ['gate'], outputs: ['z'] },
      ],
    ],
    ['a Clip whose end is a graph input', [{ opType: 'Clip', inputs: ['c', 'x'], outputs: ['y'] }]],
  ] as const)('none for %s', (_, readers) => {
    expect(readerSaturation(convThen([...readers]).graph, 'c')).toBeUndefined();
  });

  it('none for a graph output', () => {
    const model = convThen([{ opType: 'HardSwish', inputs: ['c'], outputs: ['y'] }]);
    model.proto.graph!.output.push({ ...model.proto.graph!.output[0]!, name: 'c' });
    expect(readerSaturation(model.graph, 'c')).toBeUndefined();
  });
});

describe('quantizing a Conv output read by a HardSwish', () => {
  const feeds: FeedSource = async function* () {
    for (let i = 0; i < 4; i++) yield { x: new Tensor('float32', [1, 3, 8, 8], randomFloat32(192, 40 + i)) };
  };

  async function outputSqnr(bytes: Uint8Array, float: Uint8Array): Promise<number> {
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model);
      const out: number[] = [];
      for await (const feed of feeds()) {
        const x = feed['x']!;
        const r = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
        out.push(...(r['y']!.data as Float32Array));
      }
      await session.release();
      return out;
    };
    return sqnr(await run(float), await run(bytes));
  }

  it.each(['minmax', 'mse'])(
    '%s: the range stops at -3, and the output is closer to float for it',
    async (method) => {
      const build = () => convThen([{ opType: 'HardSwish', inputs: ['c'], outputs: ['y'] }]);
      const float = serializeModel(build());
      const model = build();
      const { report } = await quantize(model, { data: feeds, runner: nodeRunnerFactory(), method });
      const c = report.activations.find((a) => a.tensor === 'c')!;
      expect(c.saturation).toEqual({ min: -3, by: 'HardSwish' });
      expect(c.min).toBe(-3);

      // The same model quantized with a range that reaches down to the data's minimum instead.
      const low = Math.min(...(await dataMinimum()));
      expect(low).toBeLessThan(-4);
      const ranges = Object.fromEntries(
        report.activations.map((a) => [a.tensor, { min: a.min, max: a.max }]),
      );
      ranges['c'] = { min: low, max: c.max };
      const wide = build();
      await quantize(wide, { ranges });
      expect(await outputSqnr(serializeModel(model), float)).toBeGreaterThan(
        (await outputSqnr(serializeModel(wide), float)) + 1,
      );
    },
  );

  async function dataMinimum(): Promise<number[]> {
    const model = convThen([{ opType: 'HardSwish', inputs: ['c'], outputs: ['y'] }]);
    model.proto.graph!.output.push({ ...model.proto.graph!.output[0]!, name: 'c' });
    const session = await ort.InferenceSession.create(serializeModel(model));
    const lows: number[] = [];
    for await (const feed of feeds()) {
      const x = feed['x']!;
      const r = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
      lows.push(Math.min(...(r['c']!.data as Float32Array)));
    }
    await session.release();
    return lows;
  }
});
