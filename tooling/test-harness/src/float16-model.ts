import { Initializer, type Model, OnnxDataType, type TensorProto, makeTensorProto } from '@qgrain/onnx';
import { Tensor, float32ArrayToFloat16 } from '@qgrain/tensor';

function float16Proto(t: TensorProto): TensorProto {
  const init = new Initializer(t, undefined);
  const values = init.toTensor().toFloat32();
  return makeTensorProto(t.name, new Tensor('float16', init.dims, float32ArrayToFloat16(values)));
}

/**
 * Turns a (prepared) float32 model into its float16 twin, in place, for tests: every float32
 * initializer and tensor attribute (ConstantOfShape's value), declared value type (inputs,
 * outputs, value_info, in every graph) and Cast to float becomes float16. None of the real models the harness installs is float16 (silero_vad_half is
 * float32 throughout, despite its name), so float16 handling is tested on twins of real models.
 */
export function toFloat16Model(model: Model): void {
  for (const graph of model.graphs()) {
    const proto = graph.proto;
    proto.initializer = proto.initializer.map((t) =>
      t.dataType === OnnxDataType.FLOAT ? float16Proto(t) : t,
    );
    for (const v of [...proto.input, ...proto.output, ...proto.valueInfo]) {
      const type = v.type?.tensorType;
      if (type?.elemType === OnnxDataType.FLOAT) type.elemType = OnnxDataType.FLOAT16;
    }
    for (const node of proto.node) {
      for (const a of node.attribute) {
        if (node.opType === 'Cast' && a.name === 'to' && Number(a.i) === OnnxDataType.FLOAT)
          a.i = OnnxDataType.FLOAT16;
        // ConstantOfShape and Constant hold their value as a tensor attribute.
        if (a.t && a.t.dataType === OnnxDataType.FLOAT) a.t = float16Proto(a.t);
      }
    }
  }
}
