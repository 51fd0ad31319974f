// Writes a synthetic transformer-like model of any size with external data: a stack of
// feed-forward blocks, x + Down(Relu(Up(x))), Up [hidden, 4 * hidden] and Down [4 * hidden,
// hidden], weights drawn from a normal distribution with a few outlier columns (the output
// channels whose weights are many times the rest, as in language models). The weights are
// generated one tensor at a time while the model is written, so a model far larger than memory
// can be made; the same arguments always give the same bytes.
//
//   node apps/cli/bench/scale/generate-stack.mjs [--hidden 1024] [--layers 24 | --params 200M]
//                                               [--seed 1] [--out <folder>]   (after pnpm build)
//
// Without --out it writes into a new temporary folder. Prints one JSON line: the model path, its
// data file, the parameter count and the bytes written.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Model, createModel, makeTensorProto, writeModel } from '@qgrain/onnx';
import { Tensor } from '@qgrain/tensor';

/** Feed-forward width over the model width, as in most transformers. */
const FFN_RATIO = 4;
/** Outlier columns per weight matrix. */
const OUTLIER_COLUMNS = 4;
/** How much larger an outlier column's weights are than the others. */
const OUTLIER_SCALE = 16;
/** The pretend external location the generator's reader answers to; writeModel replaces it. */
const GENERATED = 'generated-by-qgrain-bench';
const ONNX_EXTERNAL = 1;
const OPSET = 17;
const DEFAULTS = { hidden: 1024, layers: 24, seed: 1 };
const SUFFIXES = { K: 1e3, M: 1e6, G: 1e9 };

/** Parameters of one feed-forward block of width `hidden`. */
export function blockParameters(hidden) {
  return 2 * FFN_RATIO * hidden * hidden;
}

/** Fills arrays with deterministic standard normal numbers (two xorshift32 streams, Box-Muller). */
function normals(seed) {
  let s0 = Math.imul(seed, 0x9e3779b9) >>> 0 || 1;
  let s1 = (Math.imul(seed, 0x85ebca6b) + 0x27d4eb2f) >>> 0 || 2;
  // 53 random bits mapped into (0, 1): log never sees 0.
  const uniform = () => {
    s0 ^= s0 << 13;
    s0 ^= s0 >>> 17;
    s0 ^= s0 << 5;
    s1 ^= s1 << 13;
    s1 ^= s1 >>> 17;
    s1 ^= s1 << 5;
    return ((s0 >>> 0) * 2 ** 21 + (s1 >>> 11) + 1) / (2 ** 53 + 2);
  };
  return (out) => {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const angle = 2 * Math.PI * uniform();
      out[i] = r * Math.cos(angle);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(angle);
    }
    return out;
  };
}

/**
 * Weight `index` of shape [rows, cols]: N(0, gain^2 / rows), with OUTLIER_COLUMNS columns scaled
 * up.
 */
function weightValues(seed, index, rows, cols, gain) {
  const values = normals(seed * 1000003 + index)(new Float32Array(rows * cols));
  const sigma = gain / Math.sqrt(rows);
  const outliers = new Set();
  for (let k = 0; outliers.size < Math.min(OUTLIER_COLUMNS, cols); k++) {
    outliers.add((Math.imul(index * 31 + k + 1, 2654435761) >>> 0) % cols);
  }
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) values[row + c] *= sigma;
    for (const c of outliers) values[row + c] *= OUTLIER_SCALE;
  }
  return values;
}

function parseCount(text) {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text);
  if (!match) throw new Error(`expected a parameter count such as 200M, got '${text}'`);
  return Number(match[1]) * (SUFFIXES[match[2].toUpperCase()] ?? 1);
}

/**
 * Writes the stack into `out` (created when missing) and returns what it wrote. `layers` wins
 * over `params`; `params` picks the layer count nearest to that many parameters.
 */
export async function generateStack({ hidden = DEFAULTS.hidden, layers, params, seed = DEFAULTS.seed, out }) {
  const count =
    layers ??
    Math.max(1, Math.round((params ?? DEFAULTS.layers * blockParameters(hidden)) / blockParameters(hidden)));
  const folder = out ? resolve(out) : mkdtempSync(join(tmpdir(), 'qgrain-stack-'));
  mkdirSync(folder, { recursive: true });
  const ffn = FFN_RATIO * hidden;
  const nodes = [];
  const shapes = [];
  let x = 'x';
  for (let l = 0; l < count; l++) {
    const up = `layer${l}.up.weight`;
    const down = `layer${l}.down.weight`;
    // Down projections scaled by 1 / sqrt(2 * layers), as GPT-2 does, so the residual stream stays
    // of the input's size through any depth.
    shapes.push(
      { name: up, rows: hidden, cols: ffn, gain: 1 },
      { name: down, rows: ffn, cols: hidden, gain: 1 / Math.sqrt(2 * count) },
    );
    const next = l === count - 1 ? 'y' : `layer${l}.out`;
    nodes.push(
      { opType: 'MatMul', name: `layer${l}.up`, inputs: [x, up], outputs: [`layer${l}.h`] },
      { opType: 'Relu', name: `layer${l}.act`, inputs: [`layer${l}.h`], outputs: [`layer${l}.a`] },
      { opType: 'MatMul', name: `layer${l}.down`, inputs: [`layer${l}.a`, down], outputs: [`layer${l}.d`] },
      { opType: 'Add', name: `layer${l}.residual`, inputs: [x, `layer${l}.d`], outputs: [next] },
    );
    x = next;
  }
  const built = createModel({
    opset: OPSET,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 'sequence', hidden] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 'sequence', hidden] }],
    nodes,
  });
  // Each weight is a reference to data the reader below generates when writeModel asks for it.
  shapes.forEach(({ name, rows, cols }, index) => {
    const proto = makeTensorProto(name, new Tensor('float32', [0], new Float32Array(0)));
    proto.dims = [rows, cols];
    proto.rawData = new Uint8Array(0);
    proto.dataLocation = ONNX_EXTERNAL;
    proto.externalData = [
      { key: 'location', value: GENERATED },
      { key: 'offset', value: String(index) },
      { key: 'length', value: String(rows * cols * 4) },
    ];
    built.graph.proto.initializer.push(proto);
  });
  const generator = {
    check() {},
    read(info) {
      const { rows, cols, gain } = shapes[info.offset];
      const values = weightValues(seed, info.offset, rows, cols, gain);
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    },
  };
  const model = new Model(built.proto, { externalData: generator, source: 'generated stack' });
  const path = join(folder, 'stack.onnx');
  const written = await writeModel(model, path, { externalData: true });
  return {
    model: written.modelPath,
    data: written.dataPath,
    hidden,
    layers: count,
    parameters: count * blockParameters(hidden),
    modelBytes: written.modelBytes,
    dataBytes: written.dataBytes,
  };
}

function option(args, name) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const hidden = option(args, '--hidden');
  const layers = option(args, '--layers');
  const params = option(args, '--params');
  const seed = option(args, '--seed');
  const result = await generateStack({
    ...(hidden ? { hidden: Number(hidden) } : {}),
    ...(layers ? { layers: Number(layers) } : {}),
    ...(params ? { params: parseCount(params) } : {}),
    ...(seed ? { seed: Number(seed) } : {}),
    out: option(args, '--out'),
  });
  console.log(JSON.stringify(result));
}
