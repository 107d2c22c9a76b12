// The subset of the ONNX protobuf schema (onnx/onnx.proto, IR version 10) that
// an inference graph of dense layers needs, as a protobufjs JSON descriptor so
// nothing has to be loaded from disk at run time.
//
// Message and field names and numbers are those of onnx.proto, from the ONNX
// project (https://github.com/onnx/onnx), Copyright (c) ONNX Project
// Contributors, licensed under the Apache License 2.0
// (http://www.apache.org/licenses/LICENSE-2.0). Fields fastmlp never writes
// are left out; a protobuf reader skips nothing it needs, since absent fields
// are simply not encoded.
import * as protobuf from 'protobufjs';

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            doc_string: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            doc_string: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            data_type: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            raw_data: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
          },
        },
        TypeProto: {
          fields: {
            tensor_type: { type: 'TypeProtoTensor', id: 1 },
          },
        },
        // TypeProto.Tensor in onnx.proto (a nested message there).
        TypeProtoTensor: {
          fields: {
            elem_type: { type: 'int32', id: 1 },
            shape: { type: 'TensorShapeProto', id: 2 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
        },
        // TensorShapeProto.Dimension in onnx.proto; dim_value and dim_param form a oneof there.
        Dimension: {
          fields: {
            dim_value: { type: 'int64', id: 1 },
            dim_param: { type: 'string', id: 2 },
          },
        },
      },
    },
  },
};

/** TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_DOUBLE = 11;
export const ONNX_INT64 = 7;
/** AttributeProto.AttributeType values used here. */
export const ATTR_FLOAT = 1;
export const ATTR_INT = 2;
export const ATTR_STRING = 3;
export const ATTR_INTS = 7;

let modelType: protobuf.Type | undefined;

/** The onnx.ModelProto message type (built once). */
export function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}
