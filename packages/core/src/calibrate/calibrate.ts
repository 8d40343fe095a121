import * as ort from 'onnxruntime-node';
import type { DependencyContainer } from 'tsyringe';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { QuantStub } from '../quantize/quant-stub.js';
import { resolveCalibratorFactory } from '../plugins/container.js';
import type { Calibrator, CalibratorFactory, CalibratorOptions, CalibratorState, CalibrationRange } from './calibrator.js';
import type { Feed, ForwardLoop } from './types.js';
import { extremaOutputs, observationSession } from './observe.js';
import { DataError } from './data/errors.js';
import { CalibrationStopped } from './data/forward-loop.js';
import { modelInputsOf, validateFeed } from './data/validate.js';
import { createProgress, type ProgressOptions } from '../util/progress.js';

export interface CalibrateOptions {
  /** A registered method name ("entropy", "percentile", "mse", "minmax", or a plugin's) or a factory. Default "mse" (the most accurate on the reference models, see the README). */
  calibrator?: string | CalibratorFactory;
  /** Options for the method, e.g. `{ percentile: 99.99 }`. */
  calibratorOptions?: CalibratorOptions;
  /**
   * Method for stubs on the model's own inputs (default "minmax"; null: same as the rest).
   * Normalised images have a dominant background value; histogram methods, entropy above
   * all, clip the foreground away there, while the input's range is known and bounded.
   */
  inputCalibrator?: string | CalibratorFactory | null;
  /** Stop after this many samples (first dimension of the batches). */
  limit?: number;
  /** Show a progress bar (default: on when stderr is a terminal). `total` is in samples. */
  progress?: boolean | Partial<Pick<ProgressOptions, 'total' | 'stream' | 'mode' | 'label'>>;
  /** Set the stubs' scales from the result (default true); false only collects, for sharding. */
  apply?: boolean;
  /** Container the calibrator is resolved from (default: qdeploy's). */
  container?: DependencyContainer;
  /** onnxruntime session options for the observation session. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Called after each batch. */
  onBatch?: (info: { batch: number; samples: number }) => void;
}

export interface CalibrationResult {
  method: string;
  batches: number;
  samples: number;
  /** Wall time of the whole call. */
  seconds: number;
  /** Of which building the observation session (one-time, before the first batch). */
  setupSeconds: number;
  /** Range chosen for each stubbed tensor. */
  ranges: Record<string, CalibrationRange>;
  /** Each calibrator's serialised state: merge shards with `applyCalibrationStates`. */
  states: Record<string, CalibratorState>;
}

/**
 * Step 3 of the pipeline: streams the user's batches through the FP32 graph, lets one
 * calibrator per QuantStub observe its tensor, and sets scale = amax / qmax. Memory is
 * one batch of activations plus the calibrators' bounded state, whatever the data size.
 */
export async function calibrate(quantized: QuantizedModel, forwardLoop: ForwardLoop, options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const started = performance.now();
  const method = typeof options.calibrator === 'function' ? 'custom' : options.calibrator ?? 'mse';
  const factory = typeof options.calibrator === 'function' ? options.calibrator : resolveCalibratorFactory(method, options.container);
  const stubs = quantized.stubs().filter((s) => s.enabled);
  const graphInputs = new Set(quantized.model.graph.inputs);
  const inputMethod = options.inputCalibrator === undefined ? 'minmax' : options.inputCalibrator;
  const inputFactory = inputMethod === null ? factory : typeof inputMethod === 'function' ? inputMethod : resolveCalibratorFactory(inputMethod, options.container);
  const calibrators = new Map<QuantStub, Calibrator>(
    stubs.map((s) => [s, graphInputs.has(s.tensor) ? inputFactory(inputMethod === null ? options.calibratorOptions : undefined) : factory(options.calibratorOptions)]),
  );
  // minmax-like calibrators get their batch extrema reduced inside the graph; the others
  // get the tensor values.
  const full = [...calibrators].filter(([, c]) => !c.collectExtrema).map(([s]) => s.tensor.name);
  const reduced = [...calibrators].filter(([, c]) => c.collectExtrema).map(([s]) => s.tensor.name);
  const names = [...full, ...reduced.flatMap((n) => Object.values(extremaOutputs(n)))];
  const session = await observationSession(quantized.model, full, options.sessionOptions, reduced);
  const setupSeconds = (performance.now() - started) / 1000;
  const inputs = modelInputsOf(session);
  const progressCfg = typeof options.progress === 'object' ? options.progress : {};
  const progress = createProgress({
    label: progressCfg.label ?? `calibrating (${method})`,
    unit: 'sample',
    total: progressCfg.total ?? options.limit,
    stream: progressCfg.stream,
    mode: options.progress === false ? 'off' : progressCfg.mode,
  });

  let batches = 0;
  let samples = 0;
  let stopped = false;
  // One batch at a time: onnxruntime's run() keeps both the main thread and its own
  // threads busy, so there is no idle core to overlap the calibrators with (measured:
  // the event loop does not turn while a batch runs). Memory: one batch of activations.
  const run = async (feed: Feed): Promise<void> => {
    if (stopped) throw new CalibrationStopped();
    const index = batches;
    let feeds = validateFeed(feed, inputs, { batchIndex: index, source: 'calibration data' });
    let n = Object.values(feeds)[0]?.dims[0] ?? 1;
    if (options.limit !== undefined && samples + n > options.limit) {
      // Only the first samples count when the limit cuts a batch: run just those.
      n = Math.max(0, options.limit - samples);
      feeds = firstSamples(feeds, n);
    }
    const out = names.length ? await session.run(feeds, names) : {};
    for (const [stub, cal] of calibrators) {
      const name = stub.tensor.name;
      try {
        if (cal.collectExtrema) {
          const ext = extremaOutputs(name);
          cal.collectExtrema(Number(out[ext.min]!.data[0]), Number(out[ext.max]!.data[0]), n);
        } else {
          cal.collect(out[name]!.data as Float32Array);
        }
      } catch (e) {
        throw new DataError('non-finite', `batch ${index}, tensor "${name}": ${(e as Error).message}`);
      }
    }
    batches++;
    samples += n;
    progress.tick(n);
    options.onBatch?.({ batch: batches, samples });
    if (options.limit !== undefined && samples >= options.limit) stopped = true;
  };
  try {
    await forwardLoop(run);
  } catch (e) {
    if (!(e instanceof CalibrationStopped)) throw e;
  } finally {
    progress.stop();
    await session.release();
  }
  if (batches === 0 || samples === 0) throw new DataError('empty', 'no calibration samples: the forward loop never called run()');

  const ranges: Record<string, CalibrationRange> = {};
  const states: Record<string, CalibratorState> = {};
  for (const [stub, cal] of calibrators) {
    const range = cal.compute();
    ranges[stub.tensor.name] = range;
    states[stub.tensor.name] = cal.state();
    if (options.apply !== false) stub.setRange(range);
  }
  return { method, batches, samples, seconds: (performance.now() - started) / 1000, setupSeconds, ranges, states };
}

/**
 * Combines calibration shards (the `states` of several `calibrate(..., { apply: false })`
 * runs, possibly on other machines) and sets the stubs' scales from the merged result.
 */
export function applyCalibrationStates(
  quantized: QuantizedModel,
  shards: readonly Record<string, CalibratorState>[],
  options: Pick<CalibrateOptions, 'calibratorOptions' | 'container'> & { calibrator?: CalibratorFactory } = {},
): Record<string, CalibrationRange> {
  if (shards.length === 0) throw new Error('applyCalibrationStates: no shards given');
  const ranges: Record<string, CalibrationRange> = {};
  for (const stub of quantized.stubs()) {
    const states = shards.map((shard) => shard[stub.tensor.name]).filter((st): st is CalibratorState => st !== undefined);
    if (states.length === 0) throw new Error(`applyCalibrationStates: no shard has a state for tensor "${stub.tensor.name}"`);
    // Each tensor is merged with the method that collected it (model inputs may use another one).
    const factory = typeof options.calibrator === 'function' ? options.calibrator : resolveCalibratorFactory(states[0]!.method, options.container);
    const cal = factory(options.calibratorOptions);
    for (const st of states) cal.merge(st);
    const range = cal.compute();
    stub.setRange(range);
    ranges[stub.tensor.name] = range;
  }
  return ranges;
}

/** The first `n` samples (rows of the first dimension) of each input, as views. */
function firstSamples(feeds: Record<string, ort.Tensor>, n: number): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => {
      const rows = t.dims[0] ?? 1;
      const data = t.data as Float32Array;
      return [name, new ort.Tensor(t.type as 'float32', data.subarray(0, (data.length / rows) * n), [n, ...t.dims.slice(1)])];
    }),
  );
}
