import { realModel } from '@qgrain/test-harness';
import { describe, expect, it } from 'vitest';
import { prepareModel, readModel, serializeModel } from './index.js';

describe('stripExporterNotes', () => {
  it("drops PyTorch's per-node stack traces from silero_vad_op18_ifless, inside its If bodies too", async () => {
    const model = await readModel(realModel('silero-vad-ifless').path);
    const before = serializeModel(model).byteLength;
    const noted = model.graphs().flatMap((g) => g.nodes.filter((n) => n.metadataProps.length > 0));
    expect(noted.length).toBeGreaterThan(0);
    const summary = prepareModel(model);
    expect(summary.exporterNotesStripped).toBe(noted.length);
    expect(model.graphs().flatMap((g) => g.nodes.filter((n) => n.metadataProps.length > 0))).toEqual([]);
    // The notes are a quarter of the file.
    expect(serializeModel(model).byteLength).toBeLessThan(before * 0.8);
    const kept = await readModel(realModel('silero-vad-ifless').path);
    expect(prepareModel(kept, { stripExporterNotes: false }).exporterNotesStripped).toBe(0);
  });
});
