/** What `generateStack` wrote. */
export interface GeneratedStack {
  readonly model: string;
  readonly data: string;
  readonly hidden: number;
  readonly layers: number;
  readonly parameters: number;
  readonly modelBytes: number;
  readonly dataBytes: number;
}

/** Options of `generateStack`: the width, depth (or parameter count), seed and folder. */
export interface GenerateStackOptions {
  readonly hidden?: number;
  readonly layers?: number;
  readonly params?: number;
  readonly seed?: number;
  readonly out?: string;
}

/** Parameters of one feed-forward block of width `hidden`. */
export function blockParameters(hidden: number): number;

/** Writes a synthetic feed-forward stack with external data into `out` (or a new temporary folder). */
export function generateStack(options: GenerateStackOptions): Promise<GeneratedStack>;
