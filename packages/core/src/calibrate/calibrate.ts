import * as ort from 'onnxruntime-node';
import type { DependencyContainer } from 'tsyringe';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { QuantStub } from '../quantize/quant-stub.js';
import { registeredCalibrators, resolveCalibratorFactory } from '../plugins/container.js';
import { canonicalMethod } from '../plugins/method-names.js';
import type { BinnedCollector, Calibrator, CalibratorFactory, CalibratorOptions, CalibratorState, CalibrationRange } from './calibrator.js';
import type { Feed, ForwardLoop } from './types.js';
import { binnedNames, canBinInGraph, extremaOutputs, observationSession } from './observe.js';
import { DEFAULT_HISTOGRAM_STRIDE, sampleGrid, sampleStrideOf } from './sample.js';
import { DataError } from './data/errors.js';
import { CalibrationStopped } from './data/forward-loop.js';
import { countNonFinite, modelInputsOf, validateFeed } from './data/validate.js';
import { sliceBatch } from './data/source.js';
import { createProgress, type ProgressOptions } from '../util/progress.js';

/** The smallest normal float32: a narrower in-graph bin width loses precision. */
const MIN_NORMAL_FLOAT32 = 2 ** -126;

export interface CalibrateOptions {
  /**
   * The calibration method: a registered name ("entropy", "percentile", "mse", "minmax",
   * or a plugin's; any case, and "max" for minmax) or a factory. Default "mse" (the most
   * accurate on the reference models, see the README). The same word as a config's
   * `calibration.method` and the CLI's `--calibration-method`.
   */
  method?: string | CalibratorFactory;
  /** Options for the method, e.g. `{ percentile: 99.99 }` (config `calibration.options`, CLI `--calibration-option`). */
  options?: CalibratorOptions;
  /** Method for stubs on the model's own inputs (config `calibration.inputMethod`); see `inputCalibrator`. */
  inputMethod?: string | CalibratorFactory | null;
  /** Older name of `method`. */
  calibrator?: string | CalibratorFactory;
  /** Older name of `options`. */
  calibratorOptions?: CalibratorOptions;
  /**
   * Method for stubs on the model's own inputs (default "minmax"; null: same as the rest).
   * Normalised images have a dominant background value; histogram methods, entropy above
   * all, clip the foreground away there, while the input's range is known and bounded.
   */
  inputCalibrator?: string | CalibratorFactory | null;
  /**
   * Histogram methods (calibrators with a `binned` collector: entropy, percentile, mse)
   * count 4-D feature maps on a grid of every `histogramStride`-th row and column
   * (default 2: a quarter of the values, at half the cost; 1: every value). See
   * `DEFAULT_HISTOGRAM_STRIDE` for why. Other calibrators always see every value.
   */
  histogramStride?: number;
  /** Stop after this many samples (first dimension of the batches). */
  limit?: number;
  /**
   * Show progress on stderr (a bar on a terminal, a line every 10 s otherwise). Off by
   * default: a library call prints nothing unless asked. `total` is in samples.
   */
  progress?: boolean | Partial<Pick<ProgressOptions, 'total' | 'stream' | 'mode' | 'label'>>;
  /** Set the stubs' scales from the result (default true); false only collects, for sharding. */
  apply?: boolean;
  /** Container the calibrator is resolved from (default: qdeploy's). */
  container?: DependencyContainer;
  /** onnxruntime session options for the observation session (default: graph optimisation "all", memory pattern off). */
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
  /** Of which releasing the observation session(s) after the last batch (one-time, like setup). */
  releaseSeconds: number;
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
  const chosen = options.method ?? options.calibrator;
  const methodOptions = options.options ?? options.calibratorOptions;
  const method = typeof chosen === 'function' ? 'custom' : canonicalMethod(chosen ?? 'mse', registeredCalibrators());
  const factory = typeof chosen === 'function' ? chosen : resolveCalibratorFactory(method, options.container);
  const stubs = quantized.stubs().filter((s) => s.enabled && !s.fixed); // a fixed amax (an override) is not calibrated
  const graphInputs = new Set(quantized.model.graph.inputs);
  const inputChoice = options.inputMethod !== undefined ? options.inputMethod : options.inputCalibrator;
  const inputMethod = inputChoice === undefined ? 'minmax' : inputChoice;
  const inputFactory = inputMethod === null ? factory : typeof inputMethod === 'function' ? inputMethod : resolveCalibratorFactory(inputMethod, options.container);
  const calibrators = new Map<QuantStub, Calibrator>(
    stubs.map((s) => [s, graphInputs.has(s.tensor) ? inputFactory(inputMethod === null ? methodOptions : undefined) : factory(methodOptions)]),
  );
  // Three ways to observe a tensor, cheapest first: minmax-like calibrators get their
  // batch extrema reduced inside the graph; histogram calibrators get x binned inside
  // the graph (int16 bin indices); the others get the tensor values.
  type Binned = Calibrator & { binned: BinnedCollector };
  const how = new Map<QuantStub, 'extrema' | 'binned' | 'values'>();
  for (const [stub, cal] of calibrators) {
    how.set(stub, cal.collectExtrema ? 'extrema' : cal.binned && canBinInGraph(quantized.model, stub.tensor.name, cal.binned.bins) ? 'binned' : 'values');
  }
  // Histogram calibrators see 4-D tensors on a grid (whichever way they observe them).
  const histogramStride = options.histogramStride ?? DEFAULT_HISTOGRAM_STRIDE;
  if (!Number.isInteger(histogramStride) || histogramStride < 1) {
    throw new Error(`calibrate: histogramStride must be a positive integer, got ${histogramStride}`);
  }
  const strides = new Map<QuantStub, number>();
  for (const [stub, cal] of calibrators) {
    if (cal.binned && !cal.collectExtrema) strides.set(stub, sampleStrideOf(quantized.model, stub.tensor.name, histogramStride));
  }
  const strideOf = (stub: QuantStub) => strides.get(stub) ?? 1;
  // Values for a histogram calibrator go through the same grid as the in-graph binning,
  // unless they hold a NaN or ±Infinity: then all of them, so that collect() reports it.
  const valuesFor = (stub: QuantStub, t: ort.Tensor): Float32Array => {
    const s = strideOf(stub);
    if (s === 1) return t.data as Float32Array;
    const { nan, inf } = countNonFinite(t);
    return nan + inf > 0 ? (t.data as Float32Array) : sampleGrid(t.data as Float32Array, t.dims, s);
  };
  const tensorsObserved = (kind: 'extrema' | 'binned' | 'values') => stubs.filter((s) => how.get(s) === kind).map((s) => s.tensor.name);
  const binned = stubs.filter((s) => how.get(s) === 'binned').map((s) => [s, calibrators.get(s) as Binned] as const);
  const wanted = [
    ...tensorsObserved('values'),
    ...tensorsObserved('extrema').flatMap((n) => Object.values(extremaOutputs(n))),
    ...tensorsObserved('binned').flatMap((n) => {
      const { range: _input, ...outputs } = binnedNames(n);
      return Object.values(outputs);
    }),
  ];
  const session = await observationSession(
    quantized.model,
    tensorsObserved('values'),
    // Without onnxruntime's memory pattern: with it, the second run moves every
    // intermediate into a newly planned block — fresh pages, ~4,000 page faults more on
    // the fmnist ResNet, ~12 ms on this VM — and the arena already reuses its chunks.
    { enableMemPattern: false, ...options.sessionOptions },
    tensorsObserved('extrema'),
    binned.map(([s, c]) => ({ name: s.tensor.name, bins: c.binned.bins, stride: strideOf(s) })),
  );
  // The outputs the session has (see minOf below).
  const outputNames = new Set(session.outputNames);
  const names = wanted.filter((k) => outputNames.has(k));
  // For the rare batch the graph cannot reduce or bin (below): a session returning those
  // tensors' values, made when first needed.
  const valuesSession: { made?: Promise<ort.InferenceSession> } = {};
  const fallbackRun = async (feeds: Record<string, ort.Tensor>, tensors: string[]) => {
    valuesSession.made ??= observationSession(quantized.model, [...tensorsObserved('extrema'), ...tensorsObserved('binned')], options.sessionOptions);
    return (await valuesSession.made).run(feeds, tensors);
  };
  const setupSeconds = (performance.now() - started) / 1000;
  const rangeInputs = new Set(binned.map(([s]) => binnedNames(s.tensor.name).range));
  const inputs = modelInputsOf(session).filter((i) => !rangeInputs.has(i.name));
  const progressCfg = typeof options.progress === 'object' ? options.progress : {};
  const progress = createProgress({
    label: progressCfg.label ?? `calibrating (${method})`,
    unit: 'sample',
    total: progressCfg.total ?? options.limit,
    stream: progressCfg.stream,
    mode: options.progress === undefined || options.progress === false ? 'off' : progressCfg.mode,
  });

  let batches = 0;
  let samples = 0;
  let stopped = false;
  let releaseSeconds = 0;
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
      feeds = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, sliceBatch(t, n)]));
    }
    // Each binned tensor's current range goes in with the batch (one that a float32
    // cannot hold exactly, only possible after merging a hand-made state: from values).
    const fallback = new Set<QuantStub>();
    const runFeeds: Record<string, ort.Tensor> = { ...feeds };
    for (const [stub, cal] of binned) {
      let range = cal.binned.range;
      if (!(range >= 0) || Math.fround(range) !== range) {
        fallback.add(stub);
        range = 0;
      }
      runFeeds[binnedNames(stub.tensor.name).range] = new ort.Tensor('float32', new Float32Array([range]), []);
    }
    const out = names.length ? await session.run(runFeeds, names) : {};
    // -0 (the min of ReLU zeros, negated twice in the graph) reads as 0.
    const scalar = (k: string) => {
      const v = Number(out[k]!.data[0]);
      return v === 0 ? 0 : v;
    };
    // Batches the graph could not reduce or bin — non-finite values (their probes say so:
    // onnxruntime's ReduceMin/ReduceMax skip NaN), a range growing > 2^30-fold at once, a
    // range so tiny that its bin width is not a normal float — are run again for the values, and collect()
    // takes them (and reports non-finite values with their count).
    // A tensor that the graph proves >= 0 has no min output: its min counts as 0.
    const minOf = (k: string) => (outputNames.has(k) ? scalar(k) : 0);
    const finite = (...values: number[]) => values.every((v) => Number.isFinite(v));
    for (const stub of stubs) {
      const name = stub.tensor.name;
      if (how.get(stub) === 'extrema') {
        const e = extremaOutputs(name);
        if (!finite(minOf(e.min), scalar(e.max))) fallback.add(stub);
      } else if (how.get(stub) === 'binned') {
        const b = binnedNames(name);
        const R = scalar(b.batchRange);
        const width = Math.fround(R / calibrators.get(stub)!.binned!.bins);
        if (!finite(R, minOf(b.min), scalar(b.max), scalar(b.probe)) || (R > 0 && !(width >= MIN_NORMAL_FLOAT32))) fallback.add(stub);
      }
    }
    const values = fallback.size ? await fallbackRun(feeds, [...fallback].map((s) => s.tensor.name)) : {};
    for (const [stub, cal] of calibrators) {
      const name = stub.tensor.name;
      try {
        if (fallback.has(stub)) {
          cal.collect(valuesFor(stub, values[name]!));
        } else if (how.get(stub) === 'extrema') {
          const ext = extremaOutputs(name);
          cal.collectExtrema!(minOf(ext.min), scalar(ext.max), n);
        } else if (how.get(stub) === 'binned') {
          const o = binnedNames(name);
          cal.binned!.collectBinned(out[o.indices]!.data as Int16Array, scalar(o.batchRange), minOf(o.min), scalar(o.max));
        } else {
          cal.collect(valuesFor(stub, out[name]!));
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
  let completed = false;
  try {
    await forwardLoop(run);
    completed = true;
  } catch (e) {
    if (!(e instanceof CalibrationStopped)) throw e;
    completed = true;
  } finally {
    progress.stop(completed);
    const releasing = performance.now();
    await session.release();
    if (valuesSession.made) await (await valuesSession.made.catch(() => null))?.release();
    releaseSeconds = (performance.now() - releasing) / 1000;
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
  return { method, batches, samples, seconds: (performance.now() - started) / 1000, setupSeconds, releaseSeconds, ranges, states };
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
