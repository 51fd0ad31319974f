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

/** Sets the group layout (mode 1 = blocked) that the per-group kernels walk. */
export function setLayout(blocked: i32, dim: u32, inner: u32, block: u32, groups: u32): void {
  layoutBlocked = blocked !== 0;
  layoutDim = dim;
  layoutInner = inner;
  layoutBlock = block;
  layoutGroups = groups;
  layoutBlocksPerRow = (dim + block - 1) / block;
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
    const d = i % layoutDim;
    const o = i / layoutDim;
    if (!layoutBlocked && layoutBlock === 1) {
      runLength = min(layoutDim - d, left);
      runGroup0 = d;
      runStep = 1;
      return;
    }
    const b = d / layoutBlock;
    runLength = min(min(layoutBlock * (b + 1), layoutDim) - d, left);
    runGroup0 = layoutBlocked ? o * layoutBlocksPerRow + b : b;
    runStep = 0;
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
