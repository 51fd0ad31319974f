// What the self-contained HTML report draws. `quantize --report-html` fills the sections one run
// can measure; `advise --report` fills them all (candidates, the chosen plan, the frontier).
// Everything here is plain JSON-safe data: the page embeds it and draws it with SVG.

/** One candidate's measurement for one tensor: the model output SQNR with only that choice applied. */
export interface CandidateBar {
  /** The candidate, e.g. `int8/per-tensor`, `uint8 mse`, `int16 minmax`, `float`. */
  readonly candidate: string;
  /**
   * Model output SQNR against float with only this tensor quantized this way, in dB (Infinity: no
   * error), when measured (the advisor measures it; a quantize run does not).
   */
  readonly outputSqnrDb?: number;
  /**
   * SQNR of the tensor itself against its float values, in dB, when measured. The bars show
   * `outputSqnrDb` when any candidate of the report has it, this otherwise.
   */
  readonly localSqnrDb?: number;
  /** Bytes this tensor costs under the candidate (weights: values, scales, zero points). */
  readonly bytes?: number;
  /** True for the candidate the plan took. */
  readonly chosen?: boolean;
}

/** One layer (a weight or an activation) and its candidates. */
export interface LayerRow {
  /** Tensor name (initializer or activation). */
  readonly tensor: string;
  readonly kind: 'weight' | 'activation';
  /** The nodes that read it (weights) or whose integer kernels need it (activations). */
  readonly nodes: readonly string[];
  /** Op of the reading node (Conv, MatMul, ...). */
  readonly op: string;
  readonly depthwise?: boolean;
  /** What the plan (or the quantize run) chose, e.g. `int8/per-channel`, `uint8 mse`, `float`. */
  readonly chosen: string;
  /** Measured output SQNR of the quantized model at this layer's output, when measured. */
  readonly layerSqnrDb?: number;
  readonly candidates: readonly CandidateBar[];
  /** Why the plan took `chosen` (one sentence). */
  readonly reason?: string;
}

/** A weight's per-output-channel value range: why one scale for all channels breaks. */
export interface ChannelRanges {
  readonly weight: string;
  readonly node: string;
  readonly op: string;
  readonly depthwise: boolean;
  /** The output-channel axis the ranges are taken along. */
  readonly axis: number;
  readonly min: readonly number[];
  readonly max: readonly number[];
}

/** An activation's histogram with the clipping range chosen for it. */
export interface ActivationHistogram {
  readonly tensor: string;
  /** Left edge of bin 0 and the common bin width, in the tensor's units. */
  readonly lowerEdge: number;
  readonly binWidth: number;
  /** Counts per bin (already reduced to a drawable number of bins, e.g. 128). */
  readonly counts: readonly number[];
  /** True when bins are over |x| (the histogram of magnitudes), false for signed values. */
  readonly magnitude: boolean;
  /** The chosen range, and the method that chose it. */
  readonly range: { readonly min: number; readonly max: number };
  readonly method: string;
  /** Smallest and largest value seen. */
  readonly observed: { readonly min: number; readonly max: number };
}

/** One point of the size-versus-accuracy picture. */
export interface FrontierPoint {
  readonly label: string;
  /** Bytes of the model file (weights, scales, zero points, int32 biases, graph). */
  readonly bytes: number;
  /** Model output SQNR against float on held-back data, in dB (worst output). */
  readonly outputSqnrDb: number;
  /** 'predicted' from the per-tensor measurements, 'measured' by running the built model. */
  readonly source: 'predicted' | 'measured';
  /** Marks the named reference points: all per-tensor, all per-channel, the advised plan. */
  readonly highlight?: 'all-per-tensor' | 'all-per-channel' | 'advised' | 'default';
}

/** Everything the HTML report shows; sections that are absent are left out of the page. */
export interface HtmlReportData {
  /** Page title, e.g. `qgrain advise: ch_PP-OCRv4_det_infer.onnx`. */
  readonly title: string;
  /** Lines shown under the title: model, data, budget, settings. */
  readonly summary: readonly string[];
  /** Headline figures: label -> text, e.g. `output SQNR` -> `31.2 dB (target 30 dB)`. */
  readonly figures: readonly { readonly label: string; readonly value: string }[];
  readonly layers: readonly LayerRow[];
  readonly channelRanges: readonly ChannelRanges[];
  readonly histograms: readonly ActivationHistogram[];
  readonly frontier?: readonly FrontierPoint[];
  /** The model output SQNR the plan aims at, in dB: a line across output-SQNR bars and the frontier. */
  readonly targetSqnrDb?: number;
  /**
   * The weight SQNR below which a scheme is called broken (see `WEIGHT_SQNR_FLOOR_DB`), in dB: a
   * line across the bars when they show weight SQNR (`localSqnrDb`).
   */
  readonly weightFloorDb?: number;
  readonly warnings?: readonly string[];
}
