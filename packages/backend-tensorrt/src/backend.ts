import type { Backend } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from './patterns/index.js';
import { checkPlacement } from './check/index.js';

/**
 * TensorRT: explicit quantization with Q/DQ placed where TensorRT fuses them (INT8
 * symmetric, zero point 0, per-channel weights along the output-channel axis).
 */
export const tensorrtBackend: Backend = {
  name: 'tensorrt',
  description: 'NVIDIA TensorRT (trtexec --best): explicit INT8 quantization with fusion-aware Q/DQ placement',
  patterns: TENSORRT_PATTERNS,
  quantConfig: {
    activation: { nBits: 8, symmetric: true, perChannel: false },
    weight: { nBits: 8, symmetric: true, perChannel: true },
    skipWeightQuantFor: ['LayerNormalization'],
  },
  check: (model) => checkPlacement(model).findings,
};
