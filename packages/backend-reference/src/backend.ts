import type { Backend, QuantConfigInput } from '@qdeploy/core';
import { REFERENCE_PATTERNS } from './patterns/index.js';
import { buildReference } from './build.js';
import { checkReferencePlacement } from './check.js';

/**
 * onnxruntime's CPU provider: every quantized group carries Q/DQ on all of its inputs and
 * on its output, asymmetric uint8 activations (so ReLU / ReLU6 fold into the output
 * quantizer) and symmetric per-channel int8 weights (what MLAS's U8S8 kernels take).
 */
export const REFERENCE_QUANT_CONFIG: QuantConfigInput = {
  activation: { nBits: 8, symmetric: false, perChannel: false },
  weight: { nBits: 8, symmetric: true, perChannel: true },
  skipWeightQuantFor: ['LayerNormalization'],
};

export const referenceBackend: Backend = {
  name: 'reference',
  description: 'onnxruntime-node on the CPU: QDQ placed so onnxruntime fuses QLinearConv / QLinearAdd / QGemm; build = optimised session',
  patterns: REFERENCE_PATTERNS,
  quantConfig: REFERENCE_QUANT_CONFIG,
  // Asymmetric uint8 activations make minmax the most accurate here (entropy loses 0.25 points on MobileNet).
  defaultCalibrator: 'minmax',
  build: buildReference,
  check: checkReferencePlacement,
};
