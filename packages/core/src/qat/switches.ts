/**
 * The seed's QAT switches. enableFakeQuant / disableFakeQuant flip every quantizer's
 * `enabled` flag (the training graph is rebuilt at the next step; the export skips
 * disabled quantizers too). freezeBnStats: transform() folds BatchNormalization into the
 * convolutions, so in a folded model the statistics are frozen by construction; a model
 * transformed with its BatchNormalization kept trains them on batch statistics (running
 * averages updated) until this is called, then uses the running averages.
 */
import { QuantizedModel } from '../quantize/quantized-model.js';
import type { Qat } from './prepare-qat.js';

function quantizersOf(target: Qat | QuantizedModel) {
  return (target instanceof QuantizedModel ? target : target.model).quantizers();
}

export function enableFakeQuant(target: Qat | QuantizedModel): void {
  for (const q of quantizersOf(target)) q.enabled = true;
}

export function disableFakeQuant(target: Qat | QuantizedModel): void {
  for (const q of quantizersOf(target)) q.enabled = false;
}

/** Freezes BatchNormalization statistics (a no-op for folded models, which have none). */
export function freezeBnStats(qat: Qat): void {
  qat.bnFrozen = true;
}
