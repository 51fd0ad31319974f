import protobuf from 'protobufjs';

// Our own description of the ONNX protobuf messages (onnx.proto, IR version 10), written as a
// protobufjs JSON descriptor. Field numbers and wire types are facts of the format; the names
// are ours (camelCase, so decoded objects read naturally in TypeScript). ONNX is proto2: no
// field is required, and only the large typed arrays of TensorProto are packed.
//
// Enums are declared as int32: the wire format is the same varint, and numbers survive values
// this descriptor does not list (a newer ONNX). Unknown fields are kept by the decoder
// ($unknowns) and written back as they were.

type FieldJson = { type: string; id: number; rule?: 'repeated'; options?: { packed: boolean } };

const repeated = (type: string, id: number): FieldJson => ({ type, id, rule: 'repeated' });
const packed = (type: string, id: number): FieldJson => ({
  type,
  id,
  rule: 'repeated',
  options: { packed: true },
});
const unpacked = (type: string, id: number): FieldJson => ({
  type,
  id,
  rule: 'repeated',
  options: { packed: false },
});
const one = (type: string, id: number): FieldJson => ({ type, id });

const descriptor = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: one('string', 1), value: one('string', 2) } },
        OperatorSetIdProto: { fields: { domain: one('string', 1), version: one('int64', 2) } },
        TensorAnnotation: {
          fields: {
            tensorName: one('string', 1),
            quantParameterTensorNames: repeated('StringStringEntryProto', 2),
          },
        },
        TensorSegment: { fields: { begin: one('int64', 1), end: one('int64', 2) } },
        TensorProto: {
          fields: {
            dims: unpacked('int64', 1),
            dataType: one('int32', 2),
            segment: one('TensorSegment', 3),
            floatData: packed('float', 4),
            int32Data: packed('int32', 5),
            stringData: repeated('bytes', 6),
            int64Data: packed('int64', 7),
            name: one('string', 8),
            rawData: one('bytes', 9),
            doubleData: packed('double', 10),
            uint64Data: packed('uint64', 11),
            docString: one('string', 12),
            externalData: repeated('StringStringEntryProto', 13),
            dataLocation: one('int32', 14),
            metadataProps: repeated('StringStringEntryProto', 16),
          },
        },
        SparseTensorProto: {
          fields: {
            values: one('TensorProto', 1),
            indices: one('TensorProto', 2),
            dims: unpacked('int64', 3),
          },
        },
        TensorShapeDimension: {
          fields: { dimValue: one('int64', 1), dimParam: one('string', 2), denotation: one('string', 3) },
        },
        TensorShapeProto: { fields: { dim: repeated('TensorShapeDimension', 1) } },
        TypeProtoTensor: { fields: { elemType: one('int32', 1), shape: one('TensorShapeProto', 2) } },
        TypeProtoSequence: { fields: { elemType: one('TypeProto', 1) } },
        TypeProtoMap: { fields: { keyType: one('int32', 1), valueType: one('TypeProto', 2) } },
        TypeProtoOptional: { fields: { elemType: one('TypeProto', 1) } },
        TypeProtoOpaque: { fields: { domain: one('string', 1), name: one('string', 2) } },
        TypeProto: {
          fields: {
            tensorType: one('TypeProtoTensor', 1),
            sequenceType: one('TypeProtoSequence', 4),
            mapType: one('TypeProtoMap', 5),
            denotation: one('string', 6),
            opaqueType: one('TypeProtoOpaque', 7),
            sparseTensorType: one('TypeProtoTensor', 8),
            optionalType: one('TypeProtoOptional', 9),
          },
        },
        ValueInfoProto: {
          fields: {
            name: one('string', 1),
            type: one('TypeProto', 2),
            docString: one('string', 3),
            metadataProps: repeated('StringStringEntryProto', 4),
          },
        },
        AttributeProto: {
          fields: {
            name: one('string', 1),
            f: one('float', 2),
            i: one('int64', 3),
            s: one('bytes', 4),
            t: one('TensorProto', 5),
            g: one('GraphProto', 6),
            floats: unpacked('float', 7),
            ints: unpacked('int64', 8),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
            docString: one('string', 13),
            tp: one('TypeProto', 14),
            typeProtos: repeated('TypeProto', 15),
            type: one('int32', 20),
            refAttrName: one('string', 21),
            sparseTensor: one('SparseTensorProto', 22),
            sparseTensors: repeated('SparseTensorProto', 23),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: one('string', 3),
            opType: one('string', 4),
            attribute: repeated('AttributeProto', 5),
            docString: one('string', 6),
            domain: one('string', 7),
            overload: one('string', 8),
            metadataProps: repeated('StringStringEntryProto', 9),
          },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: one('string', 2),
            initializer: repeated('TensorProto', 5),
            docString: one('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            valueInfo: repeated('ValueInfoProto', 13),
            quantizationAnnotation: repeated('TensorAnnotation', 14),
            sparseInitializer: repeated('SparseTensorProto', 15),
            metadataProps: repeated('StringStringEntryProto', 16),
          },
        },
        TrainingInfoProto: {
          fields: {
            initialization: one('GraphProto', 1),
            algorithm: one('GraphProto', 2),
            initializationBinding: repeated('StringStringEntryProto', 3),
            updateBinding: repeated('StringStringEntryProto', 4),
          },
        },
        FunctionProto: {
          fields: {
            name: one('string', 1),
            input: repeated('string', 4),
            output: repeated('string', 5),
            attribute: repeated('string', 6),
            node: repeated('NodeProto', 7),
            docString: one('string', 8),
            opsetImport: repeated('OperatorSetIdProto', 9),
            domain: one('string', 10),
            attributeProto: repeated('AttributeProto', 11),
            valueInfo: repeated('ValueInfoProto', 12),
            overload: one('string', 13),
            metadataProps: repeated('StringStringEntryProto', 14),
          },
        },
        ModelProto: {
          fields: {
            irVersion: one('int64', 1),
            producerName: one('string', 2),
            producerVersion: one('string', 3),
            domain: one('string', 4),
            modelVersion: one('int64', 5),
            docString: one('string', 6),
            graph: one('GraphProto', 7),
            opsetImport: repeated('OperatorSetIdProto', 8),
            metadataProps: repeated('StringStringEntryProto', 14),
            trainingInfo: repeated('TrainingInfoProto', 20),
            functions: repeated('FunctionProto', 25),
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

/** The protobufjs message types of our ONNX schema, by message name. */
export const onnxTypes = {
  model: root.lookupType('onnx.ModelProto'),
  graph: root.lookupType('onnx.GraphProto'),
  node: root.lookupType('onnx.NodeProto'),
  attribute: root.lookupType('onnx.AttributeProto'),
  tensor: root.lookupType('onnx.TensorProto'),
  valueInfo: root.lookupType('onnx.ValueInfoProto'),
  typeProto: root.lookupType('onnx.TypeProto'),
  operatorSetId: root.lookupType('onnx.OperatorSetIdProto'),
  stringStringEntry: root.lookupType('onnx.StringStringEntryProto'),
} as const;
