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

/**
 * Each stub's histogram with every method's amax: from the calibration's own states
 * when it was a histogram method, else from one extra percentile pass (states only).
 */
export async function reportHistograms(c: Calibrated, options: CalibratedOptions): Promise<StubHistogram[]> {
  const cal = options.calibration;
  if (!c.calibration || !cal) return [];
  const chosen = Object.fromEntries(c.quantized.stubs().filter((s) => s.range).map((s) => [s.tensor.name, s.range!.amax]));
  let states = c.calibration.states;
  if (!hasHistograms(states)) {
    await ensureCalibrator('percentile', { from: options.from });
    const source = await openCalibrationData(path.resolve(cal.data), dataOptions(cal, c.modelInputs));
    const r = await calibrate(c.quantized, toForwardLoop(source, { modelInputs: c.modelInputs }), {
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
