// Calibration data: sources (npy, images, modules), validation, ForwardLoop adapters.
// The public names only; helpers stay internal to this folder.
export { arraySource, type ArrayData, type ArrayInput, type ArraySourceOptions } from './array-source.js';
export { DataError, isDataError, type DataErrorKind } from './errors.js';
export { CalibrationStopped, feedsFromForwardLoop, toForwardLoop, withValidation, type ToForwardLoopOptions } from './forward-loop.js';
export { IMAGE_EXTENSIONS, imageFolderSource, type ImageSourceOptions, type ImageTransform } from './image-source.js';
export { MODULE_EXTENSIONS, moduleSource, type DataModuleContext, type ModuleSourceOptions } from './module-source.js';
export type { Normalization } from './normalize.js';
export {
  encodeNpyHeader,
  openNpy,
  readNpyHeader,
  writeNpy,
  type NpyArray,
  type NpyArrayType,
  type NpyDtype,
  type NpyFile,
  type NpyHeader,
  type NpyWritable,
} from './npy.js';
export { npySource, type NpySourceOptions } from './npy-source.js';
export { npzSource, readNpz } from './npz.js';
export { detectDataKind, openCalibrationData, type CalibrationDataKind, type CalibrationDataOptions } from './open.js';
export { DEFAULT_BATCH_SIZE, type CalibrationBatch, type CalibrationDataSource, type SourceOptions } from './source.js';
export { modelInputsOf, validateFeed, type FeedLocation, type ModelInputInfo } from './validate.js';
