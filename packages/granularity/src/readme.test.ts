import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeReadmeExamples } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describeReadmeExamples(packageDir);

describe('the depthwise example', () => {
  it('the depthwise example shows per-channel at least 20 dB above per-tensor', () => {
    const out = execFileSync(process.execPath, [join(packageDir, 'examples/depthwise-granularity.mjs')], {
      encoding: 'utf8',
    });
    const median = (scheme: string): number => {
      const row = out.split('\n').find((line) => line.startsWith(`${scheme} `));
      if (!row) throw new Error(`no row for ${scheme} in:\n${out}`);
      return Number(row.split(/\s+/)[3]);
    };
    expect(median('int8/per-channel') - median('int8/per-tensor')).toBeGreaterThanOrEqual(20);
    expect(out).toMatch(/int8\/per-block:32 .* 9\.00\n/);
  });
});
