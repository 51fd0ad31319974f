// Group layouts as the per-group kernels walk them: the layout of the current call and the runs
// (stretches of elements in one group, or in consecutive groups) it decomposes a chunk into.

// Layout of the current call (see GroupLayout in @qgrain/tensor); set once per kernel call.
let layoutBlocked: bool = false;
let layoutDim: u32 = 1;
let layoutInner: u32 = 1;
let layoutBlock: u32 = 1;
let layoutGroups: u32 = 1;
let layoutBlocksPerRow: u32 = 1;

// The run found by nextRun: elements [i, i + runLength) map to groups runGroup0 + k * runStep.
export let runLength: u32 = 0;
export let runGroup0: u32 = 0;
export let runStep: u32 = 0;

// Where the element after the last run lies (layouts with inner 1): index followIndex is at
// position followD of row followRow, in block followBlock. Valid until the layout changes.
let followValid: bool = false;
let followIndex: u32 = 0;
let followD: u32 = 0;
let followRow: u32 = 0;
let followBlock: u32 = 0;

/** Sets the group layout (mode 1 = blocked) that the per-group kernels walk. */
export function setLayout(blocked: i32, dim: u32, inner: u32, block: u32, groups: u32): void {
  layoutBlocked = blocked !== 0;
  layoutDim = dim;
  layoutInner = inner;
  layoutBlock = block;
  layoutGroups = groups;
  layoutBlocksPerRow = (dim + block - 1) / block;
  followValid = false;
}

/** True when every run is one whole group: blocks along the last axis (inner 1). */
export function runsAreBlocks(): bool {
  return layoutBlocked && layoutInner === 1;
}

// For a caller that walks the blocks itself after one nextRun (see runsAreBlocks).

/** The row length (the blocked axis) of the layout. */
export function rowLength(): u32 {
  return layoutDim;
}

/** The block length of the layout. */
export function blockLength(): u32 {
  return layoutBlock;
}

/** Position in its row of the element after the run nextRun found last. */
export function followPosition(): u32 {
  return followD;
}

/** Forgets the last run: the next nextRun divides its position out again. */
export function forgetRun(): void {
  followValid = false;
}

// Finds the longest run starting at element i (and ending before `end`) whose groups are either
// one group or consecutive groups: the same decomposition as forEachSegment, but computable from
// any index, which lets the host cut a tensor into chunks anywhere.
export function nextRun(i: u32, end: u32): void {
  const left = end - i;
  if (layoutGroups === 1) {
    runLength = left;
    runGroup0 = 0;
    runStep = 0;
    return;
  }
  if (layoutInner === 1) {
    // Row, position and block of i: carried over from the previous run when it ended at i (walking
    // 32-element blocks, three integer divisions per block would cost as much as the block's
    // quantization), else divided out.
    let d: u32, o: u32, b: u32;
    if (followValid && i === followIndex) {
      d = followD;
      o = followRow;
      b = followBlock;
    } else {
      d = i % layoutDim;
      o = i / layoutDim;
      b = d / layoutBlock;
    }
    const blockEnd = min(layoutBlock * (b + 1), layoutDim);
    if (!layoutBlocked && layoutBlock === 1) {
      runLength = min(layoutDim - d, left);
      runGroup0 = d;
      runStep = 1;
    } else {
      runLength = min(blockEnd - d, left);
      runGroup0 = layoutBlocked ? o * layoutBlocksPerRow + b : b;
      runStep = 0;
    }
    d += runLength;
    if (d === layoutDim) {
      d = 0;
      o++;
      b = 0;
    } else if (layoutBlock === 1) {
      b = d;
    } else if (d === blockEnd) {
      b++;
    }
    followValid = true;
    followIndex = i + runLength;
    followD = d;
    followRow = o;
    followBlock = b;
    return;
  }
  const k = i % layoutInner;
  const rest = i / layoutInner;
  const d = rest % layoutDim;
  const b = d / layoutBlock;
  runLength = min(layoutInner - k, left);
  if (layoutBlocked) {
    runGroup0 = ((rest / layoutDim) * layoutBlocksPerRow + b) * layoutInner + k;
    runStep = 1;
  } else {
    runGroup0 = b;
    runStep = 0;
  }
}
