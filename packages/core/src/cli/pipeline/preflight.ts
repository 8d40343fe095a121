/**
 * Checks quantize runs before the first calibration batch, so that a run never fails,
 * after minutes of calibration, for a reason its inputs showed at the start.
 */
import { displayPath } from '../../config/load.js';
import type { Model } from '../../ir/model.js';
import { firstLine } from '../../plugins/errors.js';
import { resolveCalibratorFactory } from '../../plugins/container.js';
import { MIN_QDQ_OPSET } from '../../quantize/export-qdq.js';
import type { QuantizedModel } from '../../quantize/quantized-model.js';
import { quoteName } from '../../util/printable.js';
import { ModelInputError, UsageError } from '../errors.js';

/** A bad calibration option (unknown key, value out of range) is bad input, found now. */
export function checkCalibratorOptions(method: string, options: Record<string, unknown> | undefined): void {
  if (options === undefined) return;
  try {
    resolveCalibratorFactory(method)(options);
  } catch (err) {
    throw new UsageError(`calibration option (--calib-option / calibration.options): ${firstLine(err)}`, { cause: err });
  }
}

/** QDQ export needs opset 13 (per-channel DequantizeLinear): refuse an older model before calibrating it. */
export function checkExportOpset(m: Model, file: string): void {
  const opset = m.opset('') ?? 0;
  if (opset < MIN_QDQ_OPSET) {
    throw new ModelInputError(
      `${displayPath(file)}: the model imports ONNX opset ${opset}; a QDQ model needs opset ${MIN_QDQ_OPSET} or newer: re-export it with opset_version>=${MIN_QDQ_OPSET} ` +
        `(or convert it: onnx.version_converter.convert_version(model, ${MIN_QDQ_OPSET}))`,
    );
  }
}

/** Counts of NaN and ±Inf in `values`. */
function nonFinite(values: Float32Array): { nan: number; inf: number } {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  return { nan, inf };
}

/**
 * A weight holding NaN or ±Inf cannot be quantized meaningfully (NaN becomes 0, an Inf
 * channel's scale wipes the channel): refuse it, naming the tensor, unless the user
 * allows it; then warn.
 */
export function checkFiniteWeights(quantized: QuantizedModel, file: string, allow: boolean, log: (line: string) => void): void {
  for (const q of quantized.quantizers()) {
    if (q.kind !== 'WeightFakeQuantize') continue;
    const t = q.tensor.constant();
    if (!t) continue;
    const { nan, inf } = nonFinite(t.toFloat32());
    if (nan + inf === 0) continue;
    const what = [nan ? `${nan} NaN` : '', inf ? `${inf} ±Inf` : ''].filter(Boolean).join(' and ');
    const text = `${displayPath(file)}: weight ${quoteName(q.tensor.name)} holds ${what} of ${t.size} values`;
    if (!allow) throw new ModelInputError(`${text}; quantizing it would silently corrupt the model (pass --allow-nonfinite-weights to quantize it anyway)`);
    log(`qdeploy: warning: ${text}; quantized anyway (--allow-nonfinite-weights): NaN becomes 0 and an infinite value saturates its whole channel`);
  }
}
