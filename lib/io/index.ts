// The `io` namespace as users see it: model files, plain safetensors weights, ONNX export.
export { exportOnnx, exportOnnxBuffer, ACTIVATION_EXPORTERS, LAYER_EXPORTERS } from './onnx-export';
export type { OnnxExportOptions } from './onnx-export';
export { readWeights, weightsFromBuffer, readModelInfo, modelInfoFromBuffer, FORMAT_VERSION, OPTIMIZER_TENSOR } from './model-file';
export type { SaveOptions, LoadOptions, ModelJSON, ModelInfo, ReadWeightsOptions } from './model-file';
export { ModelFileError } from './safetensors';
