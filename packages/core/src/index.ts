// @qdeploy/core public API, in pipeline order: onnx → ir → patterns → quantize → calibrate.
export * from './onnx/errors.js';
export { loadModel, modelFromProto, type LoadOptions } from './onnx/load.js';
export { saveModel, modelToBytes, modelToProto, type SaveOptions, type Exportable } from './onnx/save.js';
export { validateModel, assertValidModel } from './onnx/validate.js';
export { loadModelAsync, loadModelSync, saveModelAsync, saveModelSync } from './onnx/forms.js';
export { toNumber } from './onnx/proto.js';
export * from './ir/dtype.js';
export * from './ir/tensor.js';
export * from './ir/value.js';
export * from './ir/node.js';
export * from './ir/graph.js';
export * from './ir/model.js';
export * from './plugins/container.js';
export * from './plugins/plugin.js';
export * from './plugins/backend.js';
export * from './patterns/dsl.js';
export * from './patterns/pattern.js';
export * from './patterns/matcher.js';
export * from './patterns/transform.js';
export * from './patterns/conversions.js';
export * from './patterns/weight-axes.js';
export * from './quantize/index.js';
export * from './calibrate/index.js';
export * from './util/progress.js';
export * from './util/atomic-write.js';
export * from './util/wasm.js';
export * from './evaluate/index.js';
export * from './config/index.js';
export {
  BUILTIN_BACKENDS,
  CALIBRATORS_PACKAGE,
  STANDARD_CALIBRATORS,
  PluginError,
  isPluginError,
  loadPlugin,
  loadPlugins,
  loadBackend,
  loadedPlugins,
  ensureCalibrator,
  resolvePlugin,
  type PluginErrorKind,
  type LoadPluginOptions,
  type LoadedPlugin,
} from './plugins/load.js';
// onnxruntime's tensor class, for feeds and forward loops, under a name that cannot be
// mistaken for the IR's Tensor (an initializer): users need no onnxruntime-node import.
export { Tensor as OrtTensor } from 'onnxruntime-node';
export * from './autodiff/index.js';
export * from './analyze/index.js';
export * from './report/index.js';
