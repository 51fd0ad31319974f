import { describe, expect, it } from 'vitest';
import {
  forEachSegment,
  groupMembers,
  groupOf,
  perAxisLayout,
  perBlockLayout,
  perTensorLayout,
} from './group-layout.js';

const layouts = [
  ['per-tensor [4,3]', perTensorLayout([4, 3])],
  ['per-axis 0 of [4,3,2]', perAxisLayout([4, 3, 2], 0)],
  ['per-axis 1 of [4,3,2]', perAxisLayout([4, 3, 2], 1)],
  ['per-axis 2 of [4,3,2]', perAxisLayout([4, 3, 2], 2)],
  ['per-block 2 along 0 of [5,3]', perBlockLayout([5, 3], 0, 2)],
  ['per-block 2 along 1 of [3,5]', perBlockLayout([3, 5], 1, 2)],
  ['per-block 3 along 1 of [2,7,2]', perBlockLayout([2, 7, 2], 1, 3)],
] as const;

describe('group layouts', () => {
  it.each(layouts)('%s: segments agree with groupOf and cover every element once', (_name, layout) => {
    const total = layout.outer * layout.dim * layout.inner;
    const seen = new Int32Array(total).fill(-1);
    forEachSegment(layout, (start, length, group0, step) => {
      for (let k = 0; k < length; k++) {
        expect(seen[start + k]).toBe(-1);
        seen[start + k] = group0 + k * step;
      }
    });
    for (let i = 0; i < total; i++) expect(seen[i]).toBe(groupOf(layout, i));
    const members = groupMembers(layout);
    expect(members.length).toBe(layout.groups);
    expect(members.reduce((n, m) => n + m.length, 0)).toBe(total);
  });

  it('numbers blocked groups row-major over the blocked scale shape', () => {
    // [3, 5] blocked by 2 along axis 1 -> scale shape [3, 3]; element (1, 4) is in block (1, 2).
    const layout = perBlockLayout([3, 5], 1, 2);
    expect(layout.groups).toBe(9);
    expect(groupOf(layout, 1 * 5 + 4)).toBe(1 * 3 + 2);
  });

  it('rejects a bad axis or block size naming the shape', () => {
    expect(() => perAxisLayout([2, 3], 2)).toThrow(/axis 2 is out of range .*\[2, 3\]/);
    expect(() => perBlockLayout([2, 3], 0, 0)).toThrow(/block size/);
  });
});
