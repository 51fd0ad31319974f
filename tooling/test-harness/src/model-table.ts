// The regression table: every real model the harness installs, the data each is quantized with,
// and what each mode is expected to do to it. The CLI's model-table test runs every row and fails
// when a measurement falls behind its expectation; `pnpm models:table` prints the table for the
// docs. Expectations are bounds set a little behind what was measured when the row was added, so
// float noise between machines passes and a real regression does not.
import { realModel } from './models.js';

/** The quantize runs of a row. */
export type TableMode = 'weight-only int8' | 'int4 blocks' | 'dynamic' | 'static';

/** The command-line flags of each mode. */
export const TABLE_MODE_FLAGS: Readonly<Record<TableMode, readonly string[]>> = {
  'weight-only int8': ['--weights-only', '--weights', 'int8/per-channel'],
  'int4 blocks': ['--weights-only', '--weights', 'int4/per-block:32'],
  dynamic: ['--dynamic', 'int8/per-token'],
  static: [],
};

/** What one mode must achieve on one model. */
export interface ModeExpectation {
  /** Weights quantized, exactly: a change either way is a change of behaviour to look at. */
  readonly weights: number;
  /** Largest file size as a share of the float file. */
  readonly maxSizeShare: number;
  /** Lowest SQNR of every model output against the float model, in dB, on the row's data. */
  readonly minOutputSqnrDb: number;
}

/** One real model and what is expected of it. */
export interface TableRow {
  readonly id: string;
  /**
   * `--data` values: real data, or declared random data that fits the model's inputs. Real data
   * is named by token: `{det-pages}` is the OCR calibration set's images folder (its det_*.png
   * pages), and `{rec-lines}` eight text lines of that set (the test resolves both).
   */
  readonly data: readonly string[];
  /** Other flags the data needs (how images become tensors). */
  readonly flags?: readonly string[];
  /** What the data stands for, for the docs. */
  readonly dataNote: string;
  /** Per mode; a mode left out is not run (int4 blocks where there is no MatMul/Gemm). */
  readonly expect: Partial<Record<TableMode, ModeExpectation>>;
}

/** silero VAD at 16 kHz: one 512-sample window of audio in [-1, 1), a zero state, the rate. */
const SILERO_DATA = [
  'input=random:seed=1,range=-1..1,shape=1x512',
  'state=random:seed=2,range=0..0,shape=2x1x128',
  'sr=random:seed=3,range=16000..16000',
];
const SILERO_NOTE = '512 samples in [-1, 1), zero state, sr 16000';

/** An expectation: exact weight count, size ceiling (share of the float file), output SQNR floor in dB. */
function e(weights: number, maxSizeShare: number, minOutputSqnrDb: number): ModeExpectation {
  return { weights, maxSizeShare, minOutputSqnrDb };
}

/**
 * Every real model of the harness, in the order the docs list them. Bounds: the size measured
 * plus one point, the output SQNR measured less 3 dB (capped at 60 dB: a higher measurement, an
 * output that saturates on the held-back batch, is no bound to hold a change to).
 */
export const MODEL_TABLE: readonly TableRow[] = [
  {
    id: 'ppocr-v4-det',
    data: ['{det-pages}'],
    flags: ['--filter', 'det_*.png', '--preprocess', 'size=160x160,mean=imagenet,std=imagenet'],
    dataNote: 'the 8 text pages of data/ocr-calibration at 160x160',
    expect: {
      'weight-only int8': e(64, 0.28, 16),
      dynamic: e(0, 1.01, 60),
      static: e(64, 0.29, 5),
    },
  },
  {
    id: 'ppocr-v4-rec',
    data: ['{rec-lines}'],
    dataNote: '8 text lines of the shared OCR calibration set',
    expect: {
      'weight-only int8': e(47, 0.28, 15),
      'int4 blocks': e(9, 0.69, 17),
      dynamic: e(9, 0.73, 30),
      static: e(47, 0.28, 14),
    },
  },
  {
    id: 'ppocr-cls',
    data: ['{rec-lines}'],
    dataNote: '8 text lines of the shared OCR calibration set',
    expect: {
      'weight-only int8': e(54, 0.33, 27),
      'int4 blocks': e(1, 0.93, 45),
      dynamic: e(1, 0.93, 60),
      static: e(54, 0.41, 60),
    },
  },
  {
    id: 'silero-vad',
    data: SILERO_DATA,
    dataNote: SILERO_NOTE,
    expect: {
      'weight-only int8': e(16, 0.31, 28),
      'int4 blocks': e(4, 0.62, 1),
      dynamic: e(4, 0.66, 8),
      static: e(16, 0.32, 35),
    },
  },
  {
    id: 'silero-vad-v5',
    data: SILERO_DATA,
    dataNote: SILERO_NOTE,
    expect: {
      'weight-only int8': e(16, 0.31, 6),
      'int4 blocks': e(4, 0.62, 6),
      dynamic: e(4, 0.66, 27),
      static: e(16, 0.32, 21),
    },
  },
  {
    id: 'silero-vad-ifless',
    data: SILERO_DATA,
    dataNote: SILERO_NOTE,
    expect: {
      'weight-only int8': e(16, 0.23, 28),
      'int4 blocks': e(4, 0.48, 1),
      dynamic: e(4, 0.52, 4),
      static: e(16, 0.23, 2),
    },
  },
  {
    id: 'silero-vad-16k-op15',
    data: SILERO_DATA,
    dataNote: SILERO_NOTE,
    expect: {
      'weight-only int8': e(8, 0.3, 28),
      'int4 blocks': e(2, 0.67, 1),
      dynamic: e(2, 0.7, 8),
      static: e(8, 0.3, 35),
    },
  },
  {
    id: 'silero-vad-half',
    data: SILERO_DATA.slice(0, 2),
    dataNote: '512 samples in [-1, 1), zero state',
    expect: {
      'weight-only int8': e(8, 0.29, 6),
      'int4 blocks': e(2, 0.66, 6),
      dynamic: e(2, 0.7, 27),
      static: e(8, 0.3, 21),
    },
  },
  {
    id: 'silero-vad-legacy',
    data: [
      'input=random:seed=1,range=-1..1,shape=1x512',
      'h=random:seed=2,range=0..0,shape=2x1x64',
      'c=random:seed=3,range=0..0,shape=2x1x64',
      'sr=random:seed=4,range=16000..16000',
    ],
    dataNote: '512 samples in [-1, 1), zero h and c, sr 16000',
    expect: {
      'weight-only int8': e(52, 0.3, 28),
      'int4 blocks': e(16, 0.53, 15),
      dynamic: e(16, 0.59, 39),
      static: e(52, 0.31, 25),
    },
  },
  {
    id: 'openwakeword-hello-deepa',
    data: ['random:seed=1,range=-1..1'],
    dataNote: 'embedding frames in [-1, 1)',
    expect: {
      'weight-only int8': e(3, 0.28, 42),
      'int4 blocks': e(3, 0.18, 11),
      dynamic: e(3, 0.29, 35),
      static: e(3, 0.29, 16),
    },
  },
  {
    id: 'openwakeword-hello-deepa-old',
    data: ['random:seed=1,range=-1..1'],
    dataNote: 'embedding frames in [-1, 1)',
    expect: {
      'weight-only int8': e(3, 0.28, 39),
      'int4 blocks': e(3, 0.19, 10),
      dynamic: e(3, 0.29, 36),
      static: e(3, 0.29, 60),
    },
  },
  {
    id: 'openwakeword-namaste-deepa',
    data: ['random:seed=1,range=-1..1'],
    dataNote: 'embedding frames in [-1, 1)',
    expect: {
      'weight-only int8': e(3, 0.28, 37),
      'int4 blocks': e(3, 0.19, 15),
      dynamic: e(3, 0.29, 34),
      static: e(3, 0.29, 60),
    },
  },
];

function cell(e: ModeExpectation | undefined): string {
  if (!e) return '-';
  if (e.weights === 0) return '0 weights';
  const sqnr = Number.isFinite(e.minOutputSqnrDb) ? `>= ${e.minOutputSqnrDb} dB` : 'exact';
  return `${e.weights} w, <= ${Math.round(e.maxSizeShare * 100)}%, ${sqnr}`;
}

/** The table as the docs show it: one row per model, one column per mode. */
export function modelTableMarkdown(): string {
  const header = ['model', 'from', 'data', 'weight-only int8', 'int4 blocks', 'dynamic', 'static'];
  const rows = MODEL_TABLE.map((row) => {
    const model = realModel(row.id);
    return [
      `\`${row.id}\``,
      `\`${model.source}\``,
      row.dataNote,
      cell(row.expect['weight-only int8']),
      cell(row.expect['int4 blocks']),
      cell(row.expect.dynamic),
      cell(row.expect.static),
    ];
  });
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
