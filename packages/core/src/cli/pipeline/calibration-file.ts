/**
 * Calibration that scales out: `qdeploy calibrate` (one shard of the data → a calibration
 * file), `qdeploy merge-calibration` (shards → one file), and `quantize --calibration`
 * (apply a file instead of running the data).
 */
import path from 'node:path';
import { calibrate, applyCalibrationStates } from '../../calibrate/calibrate.js';
import {
  CALIBRATION_FILE_FORMAT, CALIBRATION_FILE_VERSION, checkCalibrationFits, fileSha256, placementTensors, readCalibrationFile, type CalibrationFile,
} from '../../calibrate/calibration-file.js';
import { mergeCalibrationFiles } from '../../calibrate/calibration-merge.js';
import { toForwardLoop } from '../../calibrate/data/forward-loop.js';
import { DEFAULT_HISTOGRAM_STRIDE } from '../../calibrate/sample.js';
import { shardSource, type Shard } from '../../calibrate/data/shard.js';
import { ensureCalibrator } from '../../plugins/load.js';
import type { QuantizedModel } from '../../quantize/quantized-model.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { UsageError } from '../errors.js';
import { inputCalibrator } from './calibration.js';
import type { PipelineContext } from './context.js';
import { checkOutputPath } from './model-files.js';
import { placeQuantizers, type QuantizeModelOptions } from './quantize.js';

export interface CalibrateModelOptions extends Omit<QuantizeModelOptions, 'output' | 'calibrationFile'> {
  /** Where the calibration file goes. */
  statesOut: string;
  /** The slice of the data to calibrate (default: all of it, 0/1). */
  shard?: Shard;
}

export interface CalibrateSummary {
  model: string;
  statesOut: string;
  backend: string;
  method: string;
  inputMethod: string | null;
  shard: Shard;
  /** The slice calibrated, as the data source describes it. */
  data: string;
  samples: number;
  batches: number;
  quantizers: number;
  seconds: number;
}

const log0 = (line: string) => process.stderr.write(`${line}\n`);

/** Calibrates one shard of the data for the placement quantize would make, and writes the calibrators' states. */
export async function calibrateModel(options: CalibrateModelOptions): Promise<CalibrateSummary> {
  const t0 = performance.now();
  const log = options.log ?? log0;
  const cal = options.calibration;
  if (!cal) throw new UsageError('no calibration data: give --calibration-data <data>');
  const statesOut = path.resolve(options.statesOut);
  const shard = options.shard ?? { index: 0, count: 1 };
  const { model, backend, method, source, quantized, modelInputs } = await placeQuantizers(options, options.statesOut);
  const slice = shardSource(source!, shard);
  const inputMethod = await inputCalibrator(quantized, cal, method, options.from, log);
  const histogramStride = cal.histogramStride ?? DEFAULT_HISTOGRAM_STRIDE;
  const r = await calibrate(quantized, toForwardLoop(slice, { modelInputs }), {
    calibrator: method,
    inputCalibrator: inputMethod,
    calibratorOptions: cal.options,
    histogramStride,
    apply: false,
    progress: options.progress === false ? false : { total: slice.totalSamples },
  });
  const file: CalibrationFile = {
    format: CALIBRATION_FILE_FORMAT,
    version: CALIBRATION_FILE_VERSION,
    model: { name: path.basename(model), sha256: fileSha256(model) },
    placement: { backend: backend.name, tensors: placementTensors(quantized) },
    method,
    inputMethod,
    calibratorOptions: cal.options ?? {},
    histogramStride,
    data: { description: source!.description, totalSamples: source!.totalSamples ?? null },
    shards: [{ index: shard.index, count: shard.count, samples: r.samples, batches: r.batches }],
    states: r.states,
  };
  await writeFileAtomic(statesOut, `${JSON.stringify(file)}\n`, { protect: [model, path.resolve(cal.data)] });
  return {
    model, statesOut, backend: backend.name, method, inputMethod, shard, data: slice.description,
    samples: r.samples, batches: r.batches, quantizers: file.placement.tensors.length, seconds: (performance.now() - t0) / 1000,
  };
}

/** Merges calibration files into `output` (never over one of them). */
export async function mergeCalibration(files: readonly string[], output: string, ctx: PipelineContext = {}): Promise<CalibrationFile> {
  const inputs = files.map((f) => path.resolve(f));
  const out = path.resolve(output);
  await checkOutputPath(output, inputs);
  const read = inputs.map((file) => ({ file, content: readCalibrationFile(file) }));
  for (const m of new Set(read.flatMap((r) => Object.values(r.content.states).map((s) => s.method)))) await ensureCalibrator(m, { from: ctx.from });
  const merged = mergeCalibrationFiles(read);
  await writeFileAtomic(out, `${JSON.stringify(merged)}\n`, { protect: inputs });
  return merged;
}

/**
 * Sets the stubs' ranges from a calibration file (ModelOpt's calibration cache): refused
 * when it belongs to another model or lacks a state for one of this placement's
 * quantizers. `options` (calibrator options) recompute the ranges from the saved
 * histograms, e.g. another percentile; default: the file's.
 */
export async function applyCalibrationFile(
  quantized: QuantizedModel,
  file: string,
  ctx: { model: string; backend: string; from?: string; options?: Record<string, unknown> },
): Promise<{ method: string; inputMethod: string | null; data: string; batches: number; samples: number; seconds: number }> {
  const t0 = performance.now();
  const f = readCalibrationFile(file);
  checkCalibrationFits(f, file, { modelSha256: fileSha256(ctx.model), modelName: path.basename(ctx.model), tensors: placementTensors(quantized) });
  for (const m of new Set([f.method, ...Object.values(f.states).map((s) => s.method)])) await ensureCalibrator(m, { from: ctx.from });
  applyCalibrationStates(quantized, [f.states], { calibratorOptions: ctx.options ?? f.calibratorOptions, method: f.method });
  const sum = (k: 'samples' | 'batches') => f.shards.reduce((a, s) => a + s[k], 0);
  return { method: f.method, inputMethod: f.inputMethod, data: file, batches: sum('batches'), samples: sum('samples'), seconds: (performance.now() - t0) / 1000 };
}
