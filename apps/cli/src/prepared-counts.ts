import type { PrepareSummary } from '@qgrain/onnx';

/** What `prepareModel` did, as `qgrain prepare` and `qgrain inspect` print it. */
export function preparedCounts(prepared: PrepareSummary): string {
  return (
    `${prepared.constantsLifted} Constant nodes lifted, ${prepared.batchNormsFolded} BatchNorms folded, ` +
    `${prepared.affinesFolded} Mul/Add folded, ${prepared.hardSwishesFused} HardSwish fused, ` +
    `${prepared.identitiesRemoved} Identity/Dropout removed` +
    (prepared.exporterNotesStripped > 0
      ? `, ${prepared.exporterNotesStripped} nodes' exporter notes dropped`
      : '')
  );
}
