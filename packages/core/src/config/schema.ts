/**
 * The zod schema of the config file. Objects are strict (an unknown key is an error,
 * usually a typo); each leaf says in words what it expects, so an error reads
 * `calibration.batchSize: expected a positive integer, got "abc"`.
 */
import { z } from 'zod';
import type { QdeployConfig } from './types.js';
import { NORMALIZATION_PRESETS, type NormalizationPreset } from '../calibrate/data/normalize.js';

/** Short rendering of a value for messages: strings quoted, long values cut. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  if (s.length > 60) {
    if (Array.isArray(v)) return `an array of ${v.length}`;
    if (v && typeof v === 'object') return 'an object';
    s = `${s.slice(0, 57)}...`;
  }
  return s;
}

/** A schema whose every failure reads "expected <what>, got <value>". */
function expecting(what: string): { error: (iss: { input?: unknown }) => string } {
  return { error: (iss) => `expected ${what}, got ${showValue(iss.input)}` };
}

const str = (what = 'a string') => z.string(expecting(what));
const nonEmpty = (what: string) => z.string(expecting(what)).min(1, expecting(what));
const bool = () => z.boolean(expecting('true or false'));
const posInt = () => {
  const e = expecting('a positive integer');
  return z.number(e).int(e).positive(e);
};
const finite = () => z.number(expecting('a finite number'));
const numberOrList = (what: string) => z.union([finite(), z.array(finite(), expecting(what)).min(1, expecting(what))], expecting(what));

const tensorQuant = z.strictObject(
  {
    nBits: z.number(expecting('an integer from 2 to 8')).int(expecting('an integer from 2 to 8')).min(2, expecting('an integer from 2 to 8')).max(8, expecting('an integer from 2 to 8')).optional(),
    symmetric: bool().optional(),
    perChannel: bool().optional(),
  },
  expecting('an object { nBits?, symmetric?, perChannel? }'),
);

const names = (item: string, list: string) => z.array(nonEmpty(item), expecting(list));
const exclude = z.strictObject(
  {
    nodes: names('a node name or "/regex/"', 'a list of node names or "/regex/"s').optional(),
    opTypes: names('an op type', 'a list of op types').optional(),
    patterns: names('a pattern name', 'a list of pattern names').optional(),
    matches: names('a match id (its anchor node name)', 'a list of match ids').optional(),
  },
  expecting('an object { nodes?, opTypes?, patterns?, matches? }'),
);
const positive = () => z.number(expecting('a positive number')).positive(expecting('a positive number'));
const tensorOverride = z.strictObject(
  { ...tensorQuant.shape, amax: positive().optional() },
  expecting('an object { nBits?, symmetric?, perChannel?, amax? }'),
);
const overrides = z.strictObject(
  {
    tensors: z.record(z.string(), tensorOverride, expecting('an object of tensor name → override')).optional(),
    matches: z
      .record(z.string(), z.strictObject({ activation: tensorOverride.optional(), weight: tensorOverride.optional() }, expecting('an object { activation?, weight? }')), expecting('an object of match id → override'))
      .optional(),
  },
  expecting('an object { tensors?, matches? }'),
);

const quant = z.strictObject(
  {
    activation: tensorQuant.optional(),
    weight: tensorQuant.optional(),
    skipWeightQuantFor: z.array(str('a pattern name or op type'), expecting('a list of pattern names or op types')).optional(),
    exclude: exclude.optional(),
    overrides: overrides.optional(),
  },
  expecting('an object { activation?, weight?, skipWeightQuantFor?, exclude?, overrides? }'),
);

const presetNames = Object.keys(NORMALIZATION_PRESETS) as [NormalizationPreset, ...NormalizationPreset[]];
const normalize = z.strictObject(
  {
    preset: z.enum(presetNames, expecting(`one of ${presetNames.map((p) => `"${p}"`).join(', ')}`)).optional(),
    scale: finite().optional(),
    mean: numberOrList('a number or a list of numbers (one per channel)').optional(),
    std: numberOrList('a number or a list of numbers (one per channel)').optional(),
  },
  expecting('an object { preset?, scale?, mean?, std? }'),
);

const image = z.strictObject(
  {
    resize: posInt().optional(),
    crop: z.union([posInt(), z.tuple([posInt(), posInt()])], expecting('a positive integer or [height, width]')).optional(),
    channels: z.union([z.literal(1), z.literal(3)], expecting('1 (grayscale) or 3 (RGB)')).optional(),
    kernel: z.enum(['nearest', 'linear', 'cubic', 'mitchell', 'lanczos3'], expecting('one of "nearest", "linear", "cubic", "mitchell", "lanczos3"')).optional(),
    concurrency: posInt().optional(),
    layout: z.enum(['nchw', 'nhwc'], expecting('"nchw" or "nhwc"')).optional(),
  },
  expecting('an object { resize?, crop?, channels?, kernel?, concurrency?, layout? }'),
);

const calibration = z.strictObject(
  {
    data: nonEmpty('a path to calibration data (.npy or .npz file, folder, or data module)'),
    method: nonEmpty('a calibration method name (entropy, percentile, mse, minmax, ...)').optional(),
    options: z.record(z.string(), z.unknown(), expecting('an object of method options')).optional(),
    inputMethod: z.union([nonEmpty('a calibration method name'), z.null()], expecting('a calibration method name, or null (same as method)')).optional(),
    batchSize: posInt().optional(),
    limit: posInt().optional(),
    histogramStride: posInt().optional(),
    inputName: nonEmpty('a model input name').optional(),
    kind: z.enum(['npy', 'npz', 'images', 'module'], expecting('one of "npy", "npz", "images", "module"')).optional(),
    sampleRank: posInt().optional(),
    normalize: normalize.optional(),
    image: image.optional(),
  },
  expecting('an object { data, method?, options?, batchSize?, limit?, ... }'),
);

const unit = () => z.number(expecting('a number from 0 to 1')).min(0, expecting('a number from 0 to 1')).max(1, expecting('a number from 0 to 1'));
const nonNegInt = () => z.number(expecting('a non-negative integer')).int(expecting('a non-negative integer')).min(0, expecting('a non-negative integer'));

const qat = z.strictObject(
  {
    data: nonEmpty('a path to training data (.npy file, or an image folder with one sub-folder per class)'),
    labels: nonEmpty('a path to training labels (.npy)').optional(),
    epochs: posInt().optional(),
    lr: positive().optional(),
    optimizer: z.enum(['adamw', 'sgd'], expecting('"adamw" or "sgd"')).optional(),
    momentum: unit().optional(),
    weightDecay: z.number(expecting('a non-negative number')).min(0, expecting('a non-negative number')).optional(),
    batchSize: posInt().optional(),
    loss: z.enum(['cross-entropy', 'distillation', 'output-distillation'], expecting('"cross-entropy", "distillation" or "output-distillation"')).optional(),
    labelSmoothing: unit().optional(),
    temperature: positive().optional(),
    alpha: unit().optional(),
    schedule: z.enum(['constant', 'cosine'], expecting('"constant" or "cosine"')).optional(),
    warmupSteps: nonNegInt().optional(),
    clipGradNorm: positive().optional(),
    emaDecay: z.number(expecting('a number in [0, 1)')).min(0, expecting('a number in [0, 1)')).lt(1, expecting('a number in [0, 1)')).optional(),
    learnScales: bool().optional(),
    scaleLrFactor: positive().optional(),
    learnWeightScales: bool().optional(),
    weightScaleInit: z.enum(['max', 'mse'], expecting('"max" or "mse"')).optional(),
    weightScaleLrFactor: positive().optional(),
    workers: posInt().optional(),
    checkpointDir: nonEmpty('a folder path').optional(),
    resume: bool().optional(),
    seed: nonNegInt().optional(),
    limit: posInt().optional(),
    inputName: nonEmpty('a model input name').optional(),
    normalize: normalize.optional(),
    image: image.optional(),
  },
  expecting('an object { data, labels?, epochs?, lr?, optimizer?, batchSize?, loss?, checkpointDir?, ... }'),
);

const build = z.looseObject(
  {
    enabled: bool().optional(),
    output: nonEmpty('a path for the built artifact').optional(),
  },
  expecting('an object of build options'),
);

const evaluate = z.strictObject(
  {
    data: nonEmpty('a path to evaluation inputs (.npy)'),
    labels: nonEmpty('a path to evaluation labels (.npy)'),
    ref: z.union([nonEmpty('a path'), z.literal(false)], expecting('a path to the reference model, or false')).optional(),
    batchSize: posInt().optional(),
    limit: posInt().optional(),
  },
  expecting('an object { data, labels, ref?, batchSize?, limit? }'),
);

const bench = z.strictObject(
  {
    batchSize: posInt().optional(),
    iterations: posInt().optional(),
    warmup: z.number(expecting('a non-negative integer')).int(expecting('a non-negative integer')).min(0, expecting('a non-negative integer')).optional(),
    threads: posInt().optional(),
    compare: bool().optional(),
  },
  expecting('an object { batchSize?, iterations?, warmup?, threads?, compare? }'),
);

const tune = z.strictObject(
  {
    data: nonEmpty('a path to tuning data (.npy)'),
    labels: nonEmpty('a path to its labels (.npy)').optional(),
    heldOut: nonEmpty('a path to held-out data (.npy)').optional(),
    heldOutLabels: nonEmpty('a path to its labels (.npy)').optional(),
    limit: posInt().optional(),
    metric: z.enum(['top1', 'agreement', 'sqnr'], expecting('one of "top1", "agreement", "sqnr"')).optional(),
    maxDrop: z.number(expecting('a non-negative number')).min(0, expecting('a non-negative number')).optional(),
    minSqnr: finite().optional(),
  },
  expecting('an object { data, labels?, heldOut?, heldOutLabels?, limit?, metric?, maxDrop?, minSqnr? }'),
);

const floatType = z.enum(['fp32', 'fp16', 'bf16'], expecting('one of "fp32", "fp16", "bf16"'));
const exportSettings = z.strictObject(
  {
    float: floatType.optional(),
    io: z.enum(['original', 'fp32', 'fp16', 'bf16'], expecting('one of "original", "fp32", "fp16", "bf16"')).optional(),
    keepFp32: z.array(str('a node name or op type'), expecting('a list of node names or op types')).optional(),
    forceReduced: z.array(str('a node name or op type'), expecting('a list of node names or op types')).optional(),
    dataMax: z.number(expecting('a positive number')).positive(expecting('a positive number')).optional(),
  },
  expecting('an object { float?, io?, keepFp32?, forceReduced?, dataMax? }'),
);

export const configSchema = z.strictObject(
  {
    $schema: str().optional(),
    model: nonEmpty('a path to the FP32 ONNX model'),
    output: nonEmpty('a path for the quantized ONNX model'),
    backend: nonEmpty('a backend name ("tensorrt", "reference"), a package name or a path'),
    plugins: z.array(nonEmpty('a package name or a path'), expecting('a list of package names or paths')).optional(),
    backendOptions: z.record(z.string(), z.unknown(), expecting('an object of backend options')).optional(),
    quant: quant.optional(),
    calibration: calibration.optional(),
    export: exportSettings.optional(),
    qat: qat.optional(),
    build: build.optional(),
    evaluate: evaluate.optional(),
    bench: bench.optional(),
    tune: tune.optional(),
  },
  expecting('an object { model, output, backend, ... }'),
);

// The hand-written, documented interface and the schema must agree.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type SchemaOutput = z.output<typeof configSchema>;
const _configMatchesSchema: [Equals<keyof SchemaOutput, keyof QdeployConfig>, SchemaOutput extends QdeployConfig ? true : false] = [true, true];
void _configMatchesSchema;

/** Keys an object of the schema accepts at `path` (for "did you mean"), or []. */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let s: z.ZodType = configSchema;
  const unwrap = (t: z.ZodType): z.ZodType => {
    let cur = t;
    for (let i = 0; i < 10; i++) {
      if (cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
      else break;
    }
    return cur;
  };
  for (const key of path) {
    s = unwrap(s);
    if (s instanceof z.ZodObject && typeof key === 'string') {
      const next = (s.shape as Record<string, z.ZodType>)[key];
      if (!next) return [];
      s = next;
    } else if (s instanceof z.ZodArray) {
      s = s.element as z.ZodType;
    } else {
      return [];
    }
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
}
