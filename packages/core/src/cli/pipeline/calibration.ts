/**
 * The calibration step's set-up for quantize: the data options a config's calibration
 * settings give, and the method for the stubs on the model's own inputs.
 */
import type { CalibrationDataOptions } from '../../calibrate/data/open.js';
import type { ModelInputInfo } from '../../calibrate/data/validate.js';
import type { CalibrationSettings } from '../../config/types.js';
import type { Model } from '../../ir/model.js';
import { ensureCalibrator, isPluginError } from '../../plugins/load.js';

/** The options for openCalibrationData that the calibration settings give. */
export function dataOptions(c: CalibrationSettings, modelInputs: readonly ModelInputInfo[]): CalibrationDataOptions {
  const o: CalibrationDataOptions = { modelInputs };
  if (c.batchSize !== undefined) o.batchSize = c.batchSize;
  if (c.limit !== undefined) o.limit = c.limit;
  if (c.inputName !== undefined) o.inputName = c.inputName;
  if (c.kind !== undefined) o.kind = c.kind;
  if (c.sampleRank !== undefined) o.sampleRank = c.sampleRank;
  if (c.normalize !== undefined) o.normalize = c.normalize;
  if (c.image) Object.assign(o, c.image);
  return o;
}

/**
 * The method for stubs on the model's own inputs: the config's `inputMethod`, else
 * "minmax" (from @qdeploy/calibrators; when that is not installed, the main method).
 */
export async function inputCalibrator(
  quantized: { stubs(): { tensor: unknown }[]; model: Model },
  cal: CalibrationSettings,
  method: string,
  from: string | undefined,
  log: (line: string) => void,
): Promise<string | null> {
  const inputs = new Set<unknown>(quantized.model.graph.inputs);
  if (!quantized.stubs().some((s) => inputs.has(s.tensor))) return null;
  if (cal.inputMethod === null) return null;
  if (cal.inputMethod !== undefined) {
    const chosen = await ensureCalibrator(cal.inputMethod, { from });
    return chosen === method ? null : chosen;
  }
  try {
    await ensureCalibrator('minmax', { from });
    return 'minmax';
  } catch (err) {
    if (!isPluginError(err) || err.kind !== 'not-found') throw err;
    log(`qdeploy: note: @qdeploy/calibrators is not installed: the model inputs are calibrated with "${method}" too (set calibration.inputMethod to choose)`);
    return null;
  }
}
