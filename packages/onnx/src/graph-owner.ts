import type { ExternalDataReader } from './external-data.js';
import type { NodeProto } from './proto-types.js';

/**
 * What a Graph needs of the model that holds it, and what graph edits reach through `graph.model`:
 * names unique across every graph level, the reader of external tensor data, and the operator-set
 * imports. `Model` implements it; graph.ts depends on this interface and model.ts on graph.ts, so
 * the two modules do not import each other.
 */
export interface GraphOwner {
  /** Reads tensors stored outside the model file; undefined for models parsed from bytes alone. */
  readonly externalData: ExternalDataReader | undefined;
  /** The file the model was read from, for messages. */
  readonly source: string;
  /** A value/node name used nowhere in the model, derived from `base`, and reserved. */
  uniqueName(base: string): string;
  /** Records a name as used. */
  claimName(name: string): void;
  /** Records the names a new node brings. */
  claimNode(node: NodeProto): void;
  /** The version of an operator set the model imports (default: the ONNX operators), if any. */
  opsetVersion(domain?: string): number | undefined;
  /** Raises an operator-set import to at least `version`; returns the version in force. */
  raiseOpset(version: number, domain?: string): number;
}
