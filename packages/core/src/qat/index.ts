// Quantization-aware training: the training step as an ONNX graph run by onnxruntime-node.
export { prepareQat, Qat, type StepInputs, type StepLabels, type StepResult } from './prepare-qat.js';
export { enableFakeQuant, disableFakeQuant, freezeBnStats } from './switches.js';
export type { QatOptions } from './options.js';
export { DEFAULT_QAT_BATCH_SIZE, DEFAULT_QAT_LR, DEFAULT_QAT_LR_8BIT, DEFAULT_SCALE_LR_FACTOR } from './options.js';
export { resolveLoss, type LossSpec, type LossName, type ResolvedLoss } from './loss.js';
export type { Optimizer, OptimizerSpec, OptimizerType, OptimizerState, Param } from './optimizer.js';
export { Sgd } from './sgd.js';
export { AdamW } from './adamw.js';
export { lrSchedule, type ScheduleSpec, type LrSchedule } from './schedule.js';
export { clipGradNorm } from './clip.js';
export {
  openTrainingData, npyDataset, imageClassDataset, trainingBatches, batchesPerEpoch, shuffledOrder,
  type TrainingDataset, type TrainingDataOptions, type TrainingBatch, type TrainingBatchOptions,
} from './training-data.js';
export { saveCheckpoint, loadCheckpoint, encodeCheckpoint, decodeCheckpoint, checkpointPath, CHECKPOINT_FILE, type Checkpoint } from './checkpoint.js';
export { trainQat, type TrainQatOptions, type TrainQatResult, type EpochSummary } from './train.js';
export { buildTrainingGraph, type TrainingGraph, type TrainingGraphOptions } from './training-graph.js';
