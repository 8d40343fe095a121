/**
 * The qdeploy config file (`qdeploy.config.{ts,mjs,js,yaml,yml,json}`): what `qdeploy run`
 * does, checked into the user's repository. Every path is relative to the config file.
 */

/** How one kind of tensor is quantized (merged over the backend's defaults). */
export interface TensorQuantSettings {
  /** Integer width, 2 to 8 (default 8). */
  nBits?: number;
  /** Symmetric int8 with zero point 0 (default true; TensorRT requires it). */
  symmetric?: boolean;
  /** One scale per output channel (weights; default true) instead of one per tensor. */
  perChannel?: boolean;
}

/** Quantization settings; anything left out comes from the backend's defaults. */
export interface QuantSettings {
  /** Activations (the QuantStubs), per tensor. */
  activation?: TensorQuantSettings;
  /** Weights (the WeightFakeQuantizes). */
  weight?: TensorQuantSettings;
  /** Pattern names or op types whose weights stay in float (default ["LayerNormalization"]). */
  skipWeightQuantFor?: string[];
  /** Matches kept in float: by node name (exact or "/regex/"), op type, pattern name, or match id. */
  exclude?: { nodes?: string[]; opTypes?: string[]; patterns?: string[]; matches?: string[] };
  /** Per-tensor and per-match bit width, symmetry, per-channel, fixed amax (see QuantOverrides). */
  overrides?: {
    tensors?: Record<string, TensorOverrideSettings>;
    matches?: Record<string, { activation?: TensorOverrideSettings; weight?: TensorOverrideSettings }>;
  };
}

/** A TensorQuantSettings with an optional fixed amax. */
export interface TensorOverrideSettings extends TensorQuantSettings {
  amax?: number;
}

/** Per-channel normalisation applied to calibration data: `(x * scale - mean[c]) / std[c]`. */
export interface NormalizeSettings {
  /** Named values: "imagenet", "inception", "clip", "unit" (x/255), "raw"; scale / mean / std beside it override. */
  preset?: 'imagenet' | 'inception' | 'clip' | 'unit' | 'raw';
  /** Multiplies raw values first (1/255 for 8-bit pixels). Default 1 (images: 1/255). */
  scale?: number;
  /** Subtracted per channel: one value, or one per channel. Default 0. */
  mean?: number | number[];
  /** Divides per channel: one value, or one per channel. Default 1. */
  std?: number | number[];
}

/** How images in a calibration folder become tensors (torchvision-style). */
export interface ImageSettings {
  /** Shorter side after resizing, aspect ratio kept (torchvision `Resize(n)`). */
  resize?: number;
  /** Center crop: a size or [height, width]. Default: the model input's H × W. */
  crop?: number | [number, number];
  /** 1 = grayscale, 3 = RGB. Default: the model input's channel count. */
  channels?: 1 | 3;
  /** Resampling kernel (default "linear", bilinear like torchvision). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos3';
  /** Images decoded at once. */
  concurrency?: number;
  /** Tensor layout, "nchw" or "nhwc" (default: the model input's). */
  layout?: 'nchw' | 'nhwc';
}

/** Calibration: the representative data and the method that turns it into ranges. */
export interface CalibrationSettings {
  /** A .npy file, an .npz archive (one array per model input), a folder of .npy files or images, or a JS/TS data module. */
  data: string;
  /** The calibration method: entropy (default), percentile, mse, minmax, or one a plugin registers. */
  method?: string;
  /** Options for the method, e.g. `{ "percentile": 99.99 }`. */
  options?: Record<string, unknown>;
  /**
   * Method for quantizers on the model's own inputs (default "minmax": an input's range is
   * known and bounded, and histogram methods clip a normalised image's foreground away);
   * null: the same as `method`.
   */
  inputMethod?: string | null;
  /** Samples per batch (default 32). */
  batchSize?: number;
  /** Use at most this many samples. */
  limit?: number;
  /** Histogram methods count 4-D feature maps on a grid of every k-th row and column (default 2; 1: every value). */
  histogramStride?: number;
  /** The model input the data feeds (default: the model's only input). */
  inputName?: string;
  /** What `data` is, when the file extension or folder contents do not tell. */
  kind?: 'npy' | 'npz' | 'images' | 'module';
  /** .npy data: rank of one sample (3 for C×H×W); default: the model input's rank − 1. */
  sampleRank?: number;
  /** Normalisation applied to the data as it is read. */
  normalize?: NormalizeSettings;
  /** Image folders: resize, crop and channel options. */
  image?: ImageSettings;
}

/**
 * Building the deployable artifact with the backend's builder (TensorRT: trtexec). Keys
 * other than `output` and `enabled` are backend-specific and passed to `backend.build` as
 * they are; relative paths in them are relative to the config file (passed as `cwd`).
 */
export interface BuildSettings {
  /** Run the build step (default true when the section is present). */
  enabled?: boolean;
  /** Where the artifact (e.g. the engine) goes. */
  output?: string;
  [option: string]: unknown;
}

/** Accuracy of the quantized model on labelled data (onnxruntime on the CPU). */
export interface EvaluateSettings {
  /** Inputs: a .npy file (N × sample shape). */
  data: string;
  /** Labels: a .npy file of N class indices. */
  labels: string;
  /** Reference model for agreement and SQNR (default: the FP32 `model`; false: none). */
  ref?: string | false;
  batchSize?: number;
  limit?: number;
}

/** Latency and throughput on the reference backend (onnxruntime on the CPU). */
export interface BenchSettings {
  batchSize?: number;
  iterations?: number;
  warmup?: number;
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Also time the FP32 model and report the speed-up (default false). */
  compare?: boolean;
}

/** `qdeploy tune`: the data the search runs on and the budget. */
export interface TuneSettings {
  /** Tuning data (.npy). */
  data: string;
  labels?: string;
  /** Held-out data the result is checked on (default: the second half of `data`). */
  heldOut?: string;
  heldOutLabels?: string;
  limit?: number;
  /** top1 (needs labels), agreement with FP32, or sqnr. */
  metric?: 'top1' | 'agreement' | 'sqnr';
  /** Largest allowed top-1 / agreement drop, in points (default 1). */
  maxDrop?: number;
  /** Smallest allowed output SQNR in dB, for metric sqnr (default 20). */
  minSqnr?: number;
}

/** How the QDQ model's float regions are written (strongly typed export, see `toStronglyTyped`). */
export interface ExportSettings {
  /** "fp32" (default: float regions in FP32, precision left to the builder), "fp16" or "bf16" (strongly typed). */
  float?: 'fp32' | 'fp16' | 'bf16';
  /** Type of the model's float inputs and outputs: "original" (default) or the float type. */
  io?: 'original' | 'fp32' | 'fp16' | 'bf16';
  /** Node names or op types kept in FP32 besides the policy's own rules. */
  keepFp32?: string[];
  /** Node names or op types put in the reduced type whatever the policy says. */
  forceReduced?: string[];
  /** A node whose values exceed this on the calibration data stays FP32 (default 512, AutoCast's data_max). */
  dataMax?: number;
}

/**
 * Quantization-aware training after calibration (`qdeploy run`, `qdeploy train`): the
 * training step runs on onnxruntime with fake quant; the output is the same QDQ export
 * with the trained weights.
 */
export interface QatSettings {
  /** Training data: a .npy file (with `labels`) or an image folder with one sub-folder per class. */
  data: string;
  /** Class indices (.npy, shape [N]) for .npy data; not needed for distillation. */
  labels?: string;
  /** Default 1. */
  epochs?: number;
  /** Peak learning rate (default 2e-4; 1e-5 when every quantizer has 8 bits). */
  lr?: number;
  /** Default "adamw". */
  optimizer?: 'adamw' | 'sgd';
  /** SGD momentum (default 0.9). */
  momentum?: number;
  weightDecay?: number;
  /** Samples per step, fixed; the last partial batch of an epoch is dropped (default 32). */
  batchSize?: number;
  /**
   * Default "cross-entropy" with labels; without, "distillation" (KL on the FP32 model's
   * logits) when the first output is [batch, classes], else "output-distillation" (every
   * output's squared error relative to the FP32 model's: detectors, segmentation).
   */
  loss?: 'cross-entropy' | 'distillation' | 'output-distillation';
  /** Cross-entropy label smoothing (default 0.2; 0 turns it off). */
  labelSmoothing?: number;
  /** Distillation temperature (default 1). */
  temperature?: number;
  /** Distillation: weight of the KL term, the rest on cross-entropy with labels (default 1). */
  alpha?: number;
  /** Default "cosine". */
  schedule?: 'constant' | 'cosine';
  warmupSteps?: number;
  clipGradNorm?: number;
  /** Moving average of the trained weights and scales that the export uses, decay per update (default 0: off). */
  emaDecay?: number;
  /** Learn activation scales (LSQ) from the calibrated ones (default true; false keeps them fixed). */
  learnScales?: boolean;
  /** Learning-rate multiplier for learned scales (default 10). */
  scaleLrFactor?: number;
  /** Learn per-channel weight scales (LSQ on weights) instead of max |w| / qmax each step (default false). */
  learnWeightScales?: boolean;
  /** Where learned weight scales start: "max" or "mse" (the per-channel clip of least squared error; default "max"). */
  weightScaleInit?: 'max' | 'mse';
  /** Learning-rate multiplier for learned weight scales (default 1). */
  weightScaleLrFactor?: number;
  /** Data-parallel step workers (default: as many as the cores allow, at least 4 samples each, at most 8; 1: one session). */
  workers?: number;
  /** Where the per-epoch checkpoint goes (default: `<output>.qat/`). */
  checkpointDir?: string;
  /** Continue from the checkpoint there. */
  resume?: boolean;
  /** Shuffle seed (default 0). */
  seed?: number;
  /** Use at most this many training samples. */
  limit?: number;
  /** The model input the data feeds (default: the model's only input). */
  inputName?: string;
  normalize?: NormalizeSettings;
  image?: ImageSettings;
}

/** A qdeploy config file. */
export interface QdeployConfig {
  /** JSON Schema reference for editors; ignored by qdeploy. */
  $schema?: string;
  /** The FP32 ONNX model to quantize. */
  model: string;
  /** Where the QDQ ONNX model is written (never over `model`). */
  output: string;
  /** Target backend: "tensorrt", "reference", an npm package name, or a path to a plugin. */
  backend: string;
  /** Further plugins to load first (npm package names or paths), e.g. a calibrator package. */
  plugins?: string[];
  /** Backend-specific pattern options, e.g. `{ "minLinearSize": 0 }` for TensorRT's Linear size rule. */
  backendOptions?: Record<string, unknown>;
  /** Quantization settings over the backend's defaults. */
  quant?: QuantSettings;
  /** Calibration data and method; without it, activation scales are placeholders (a warning). */
  calibration?: CalibrationSettings;
  /** How the float regions are written: `{ "float": "fp16" }` for TensorRT's strong typing. */
  export?: ExportSettings;
  /** Quantization-aware training after calibration. */
  qat?: QatSettings;
  /** Build the quantized model with the backend's builder. */
  build?: BuildSettings;
  /** Evaluate the quantized model's accuracy. */
  evaluate?: EvaluateSettings;
  /** Time the quantized model. */
  bench?: BenchSettings;
  /** Mixed precision under a budget (`qdeploy tune -c`). */
  tune?: TuneSettings;
}

/** A loaded config: paths made absolute, plus where it came from. */
export interface ResolvedConfig extends QdeployConfig {
  /** The config file (absolute). */
  file: string;
  /** Its folder: plugins resolve from here. */
  dir: string;
}
