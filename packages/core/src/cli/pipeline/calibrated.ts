/**
 * The first half of quantize, shared by quantize, analyze and tune: load the backend and
 * the model, transform, insertQdq (with the user's exclusions and overrides), calibrate.
 */
import path from 'node:path';
import { calibrate, type CalibrationResult } from '../../calibrate/calibrate.js';
import { openCalibrationData } from '../../calibrate/data/open.js';
import type { CalibrationDataSource } from '../../calibrate/data/source.js';
import { toForwardLoop } from '../../calibrate/data/forward-loop.js';
import type { ModelInputInfo } from '../../calibrate/data/validate.js';
import type { CalibrationSettings, QuantSettings } from '../../config/types.js';
import type { Model } from '../../ir/model.js';
import { transform, type TransformResult } from '../../patterns/transform.js';
import type { Backend } from '../../plugins/backend.js';
import { ensureCalibrator } from '../../plugins/load.js';
import { insertQdq } from '../../quantize/insert-qdq.js';
import type { QuantizedModel } from '../../quantize/quantized-model.js';
import { inputCalibrator, dataOptions } from './calibration.js';
import { configuredPatterns, mergeQuantConfig, placementOptions, prepareBackend, type PipelineContext } from './context.js';
import { loadInputModel, validateModelFile } from './model-files.js';
import { checkCalibratorOptions, checkExportOpset, checkFiniteWeights, warnUnnormalizedImages } from './preflight.js';

export interface CalibratedOptions extends PipelineContext {
  model: string;
  backend?: string;
  backendOptions?: Record<string, unknown>;
  quant?: QuantSettings;
  calibration?: CalibrationSettings | null;
  progress?: boolean;
  /** Quantize weights holding NaN or ±Inf (with a warning) instead of refusing the model. */
  allowNonFinite?: boolean;
  /** Called once the backend (and the plugins it needs) is loaded (e.g. to check the output path against the plugin files). */
  onBackend?: () => Promise<void>;
  /** Called once the model is loaded, before any work on it (e.g. to check the output path against its external data). */
  onLoaded?: (m: Model) => Promise<void>;
}

export interface Calibrated {
  backend: Backend;
  method: string;
  original: Model;
  modelInputs: ModelInputInfo[];
  result: TransformResult;
  quantized: QuantizedModel;
  calibration: { method: string; inputMethod: string | null; data: string; normalization?: string; batches: number; samples: number; seconds: number; states: CalibrationResult['states'] } | null;
  /** performance.now() after loading, transform, insertQdq and calibration. */
  marks: { loaded: number; transformed: number; placed: number; calibrated: number };
}

/** Calibrates one placement of the model with the settings' data and method. */
export async function calibratePlacement(
  quantized: QuantizedModel,
  options: CalibratedOptions & { calibration: CalibrationSettings },
  method: string,
  source: CalibrationDataSource,
  modelInputs: readonly ModelInputInfo[],
): Promise<NonNullable<Calibrated['calibration']>> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cal = options.calibration;
  const inputMethod = await inputCalibrator(quantized, cal, method, options.from, log);
  const r = await calibrate(quantized, toForwardLoop(source, { modelInputs }), {
    calibrator: method,
    inputCalibrator: inputMethod,
    calibratorOptions: cal.options,
    limit: cal.limit,
    histogramStride: cal.histogramStride,
    progress: options.progress === false ? false : { total: source.totalSamples },
  });
  return { method: r.method, inputMethod, data: path.resolve(cal.data), ...(source.normalization ? { normalization: source.normalization } : {}), batches: r.batches, samples: r.samples, seconds: r.seconds, states: r.states };
}

/**
 * The same model placed again with other quant settings (tune's 8-bit variant), calibrated
 * on the same data; a calibration option nBits follows the new width.
 */
export async function placeAgain(c: Calibrated, options: CalibratedOptions, quant: QuantSettings, nBits: number): Promise<QuantizedModel> {
  const quantized = insertQdq(c.result.model, c.result.matches, { config: mergeQuantConfig(c.backend.quantConfig, quant), ...placementOptions(quant) });
  const cal = options.calibration;
  if (cal) {
    const settings = { ...cal, ...(cal.options && 'nBits' in cal.options ? { options: { ...cal.options, nBits } } : {}) };
    const source = await openCalibrationData(path.resolve(cal.data), dataOptions(settings, c.modelInputs));
    await calibratePlacement(quantized, { ...options, calibration: settings }, c.method, source, c.modelInputs);
  }
  return quantized;
}

/** What placeModel gives: the model placed, its calibration data opened but not yet run. */
export interface Placed extends Omit<Calibrated, 'calibration' | 'marks'> {
  source: CalibrationDataSource | undefined;
  marks: { loaded: number; transformed: number; placed: number };
}

/**
 * Load, transform, place, open the data; every check that can be made (calibration
 * options, export opset, non-finite weights) is made before the first batch, so that a run
 * never fails after a long calibration for a reason its inputs showed at the start.
 * quantize, calibrate, analyze, tune and train all start here.
 */
export async function placeModel(options: CalibratedOptions): Promise<Placed> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const model = path.resolve(options.model);
  const cal = options.calibration ?? null;
  const data = cal ? path.resolve(cal.data) : undefined;
  const backend = await prepareBackend(options.backend ?? 'tensorrt', options);
  await options.onBackend?.();
  const requested = cal?.method ?? backend.defaultCalibrator ?? 'mse';
  const method = cal ? await ensureCalibrator(requested, { from: options.from }) : requested;
  if (cal) checkCalibratorOptions(method, cal.options);

  const m = loadInputModel(model);
  await options.onLoaded?.(m);
  const modelInputs = await validateModelFile(model);
  checkExportOpset(m, model);
  const source = cal ? await openCalibrationData(data!, dataOptions(cal, modelInputs)) : undefined;
  if (source) warnUnnormalizedImages(source, data!, log);
  const loaded = performance.now();

  const result = transform(m, { patterns: configuredPatterns(backend, options.backendOptions) });
  const transformed = performance.now();
  const quantized = insertQdq(result.model, result.matches, { config: mergeQuantConfig(backend.quantConfig, options.quant), ...placementOptions(options.quant) });
  for (const u of quantized.placement.unusedExcludeRules) log(`qdeploy: warning: exclude rule "${u}" caught no match`);
  checkFiniteWeights(quantized, model, options.allowNonFinite === true, log);
  return { backend, method, original: m, modelInputs, result, quantized, source, marks: { loaded, transformed, placed: performance.now() } };
}

/** The warning for a model saved without calibration: its activation scales are placeholders. */
export function warnPlaceholderScales(quantized: QuantizedModel, log: (line: string) => void): void {
  if (quantized.stubs().length > 0) {
    log(`qdeploy: warning: no calibration data: the ${quantized.stubs().length} activation quantizers keep placeholder scales (1.0); give --calibration-data <data> before deploying`);
  }
}

/** placeModel, then calibration with the settings' data and method. */
export async function placeAndCalibrate(options: CalibratedOptions): Promise<Calibrated> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { source, marks, ...placed } = await placeModel(options);
  let calibration: Calibrated['calibration'] = null;
  if (source && options.calibration) {
    calibration = await calibratePlacement(placed.quantized, { ...options, calibration: options.calibration }, placed.method, source, placed.modelInputs);
  } else {
    warnPlaceholderScales(placed.quantized, log);
  }
  return { ...placed, calibration, marks: { ...marks, calibrated: performance.now() } };
}
