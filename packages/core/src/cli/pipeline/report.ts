/** `--report report.html` of quantize, analyze and tune: the histograms it needs, and writing it. */
import path from 'node:path';
import { calibrate } from '../../calibrate/calibrate.js';
import { openCalibrationData } from '../../calibrate/data/open.js';
import { toForwardLoop } from '../../calibrate/data/forward-loop.js';
import { hasHistograms, stubHistograms, type StubHistogram } from '../../report/histograms.js';
import { writeReport, type ReportContent } from '../../report/html.js';
import { ensureCalibrator } from '../../plugins/load.js';
import { dataOptions } from './calibration.js';
import type { Calibrated, CalibratedOptions } from './calibrated.js';
import type { CalibratorState } from '../../calibrate/calibrator.js';
import type { ModelInputInfo } from '../../calibrate/data/validate.js';
import type { CalibrationSettings } from '../../config/types.js';
import type { QuantizedModel } from '../../quantize/quantized-model.js';

/**
 * Each stub's histogram with every method's amax: from the calibration's own states
 * when it was a histogram method, else from one extra percentile pass (states only).
 */
export async function reportHistograms(c: Calibrated, options: CalibratedOptions): Promise<StubHistogram[]> {
  if (!c.calibration || !options.calibration) return [];
  return histogramsFor(c.quantized, c.calibration.states, options.calibration, c.modelInputs, options.from);
}

/** The same from a calibrated placement, its calibration states and settings. */
export async function histogramsFor(
  quantized: QuantizedModel,
  calibrated: Record<string, CalibratorState>,
  cal: CalibrationSettings,
  modelInputs: readonly ModelInputInfo[],
  from: string | undefined,
): Promise<StubHistogram[]> {
  const chosen = Object.fromEntries(quantized.stubs().filter((s) => s.range).map((s) => [s.tensor.name, s.range!.amax]));
  let states = calibrated;
  if (!hasHistograms(states)) {
    await ensureCalibrator('percentile', { from });
    const source = await openCalibrationData(path.resolve(cal.data), dataOptions(cal, modelInputs));
    const r = await calibrate(quantized, toForwardLoop(source, { modelInputs }), {
      calibrator: 'percentile',
      inputCalibrator: null,
      limit: cal.limit,
      histogramStride: cal.histogramStride,
      apply: false,
      progress: false,
    });
    states = r.states;
  }
  return stubHistograms(states, chosen);
}

/** Writes the report next to the run's other outputs, never over an input. */
export async function writeRunReport(file: string, content: ReportContent, protect: readonly (string | undefined)[]): Promise<void> {
  await writeReport(path.resolve(file), content, protect.filter((p): p is string => p !== undefined));
}
