import { storageOf } from '@qgrain/granularity';
import { type Model, QDQ_BLOCKED_OPSET, QDQ_PER_AXIS_OPSET, upgradeOpset } from '@qgrain/onnx';
import { type Plan, type PlanOptions, planQuantization } from './plan.js';

/**
 * The plan step shared by calibration and static quantization. The model is raised in place to
 * the opset of per-axis Q/DQ first, because that upgrade rewrites nodes (and so names the tensors
 * the plan lists); calibrating and quantizing through this one function is what makes a
 * calibration cache name the tensors that quantization looks up.
 */
export function planModel(model: Model, options: PlanOptions = {}): Plan {
  upgradeOpset(model, QDQ_PER_AXIS_OPSET);
  return planQuantization(model, options);
}

/**
 * The opset a plan's Q/DQ pairs need: the blocked-Q/DQ opset when any scheme uses what only it has
 * (4- or 16-bit types, blocks, float16 scales), else the per-axis one. Raising between the two
 * renames no tensor, so a plan made by {@link planModel} still holds after it.
 */
export function qdqOpsetOf(plan: Plan): number {
  const specs = [...plan.weights.map((w) => w.spec), ...plan.activations.map((a) => a.spec)];
  const wide = specs.some((spec) => {
    const storage = storageOf(spec.type);
    return (
      (storage !== 'int8' && storage !== 'uint8') ||
      spec.granularity.kind === 'per-block' ||
      spec.scaleType !== 'float32'
    );
  });
  return wide ? QDQ_BLOCKED_OPSET : QDQ_PER_AXIS_OPSET;
}
