/**
 * prepareQat: the QAT training step as one onnxruntime session. Forward with fake quant,
 * loss and backward (autodiff's buildGradientGraph) run in one graph that takes the batch,
 * the labels (or the teacher's logits) and the current weights as inputs and returns the
 * loss and the gradients; the optimizer updates the weights in TypeScript.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { buildGradientGraph, replaceWithConstants, shapeComputedValues, staticShapes } from '../autodiff/index.js';
import { isTensor } from '../calibrate/data/validate.js';
import { DataType } from '../ir/dtype.js';
import { integerRange } from '../quantize/config.js';
import { Tensor } from '../ir/tensor.js';
import type { Model } from '../ir/model.js';
import { modelToBytes } from '../onnx/save.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { Checkpoint } from './checkpoint.js';
import { clipGradNorm } from './clip.js';
import { AdamW } from './adamw.js';
import { lossNeedsLabels, lossNeedsTeacher, resolveLoss, type ResolvedLoss } from './loss.js';
import type { Optimizer, OptimizerSpec, Param } from './optimizer.js';
import { DEFAULT_LEARN_SCALES, DEFAULT_LEARN_WEIGHT_SCALES, DEFAULT_QAT_BATCH_SIZE, DEFAULT_WEIGHT_SCALE_INIT, DEFAULT_WEIGHT_SCALE_LR_FACTOR, DEFAULT_EMA_DECAY, DEFAULT_QAT_LR, DEFAULT_QAT_LR_8BIT, DEFAULT_QAT_SCHEDULE, DEFAULT_SCALE_LR_FACTOR, type QatOptions } from './options.js';
import { lrSchedule, type LrSchedule, type ScheduleSpec } from './schedule.js';
import { WeightAverage } from './weight-average.js';
import { Sgd } from './sgd.js';
import { buildTrainingGraph, type TrainingGraph } from './training-graph.js';
import { mseWeightScales } from './weight-scale-init.js';
import { keepBlocked, lowerConvsToNchwc, nchwcBlockSize } from './nchwc/index.js';
import { NO_SPINNING } from '../util/no-spinning.js';
import { StepPool } from './parallel/step-pool.js';

export type StepInputs = ort.Tensor | Record<string, ort.Tensor>;

/** Default data-parallel workers: no more than this many, each with at least this many samples (per-worker costs: weights, fake quant, copies). */
const MAX_DEFAULT_WORKERS = 8;
const MIN_SAMPLES_PER_WORKER = 4;
export type StepLabels = ort.Tensor | Int32Array | BigInt64Array | readonly number[];

/** What the last step measured. */
export interface StepResult {
  loss: number;
  /** Learning rate the update used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Samples whose argmax matched the label (null without labels). */
  correct: number | null;
  samples: number;
}

function makeOptimizer(spec: OptimizerSpec): Optimizer {
  if (spec.type === 'sgd') return new Sgd(spec);
  if (spec.type === 'adamw') return new AdamW(spec);
  throw new Error(`optimizer.type must be "sgd" or "adamw", got ${JSON.stringify((spec as { type: unknown }).type)}`);
}

function resolveOptimizer(o: QatOptions['optimizer'], defaultLr: number): OptimizerSpec & { lr: number } {
  const spec = typeof o === 'string' ? { type: o, lr: defaultLr } : { ...(o ?? { type: 'adamw' as const }), lr: o?.lr ?? defaultLr };
  if (!(spec.lr > 0) || !Number.isFinite(spec.lr)) throw new Error(`optimizer.lr must be a positive number, got ${spec.lr}`);
  return spec;
}

/**
 * The default peak lr for a model's quantizers: at 8 bits PTQ already sits within ~0.1 point
 * of FP32 and QAT only has to keep it there, so its lr is 20× lower (README, QAT results).
 */
function defaultQatLr(quantized: QuantizedModel): number {
  const bits = quantized.quantizers().filter((q) => q.enabled).map((q) => q.config.nBits);
  return bits.length && Math.min(...bits) >= 8 ? DEFAULT_QAT_LR_8BIT : DEFAULT_QAT_LR;
}

/** Labels as int64 for the graph. */
function labelsTensor(labels: StepLabels, batch: number): { tensor: ort.Tensor; values: ArrayLike<number | bigint> } {
  const values = labelValues(labels);
  if (values.length !== batch) throw new Error(`qat.step: ${values.length} labels for a batch of ${batch}`);
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return { tensor: new ort.Tensor('int64', data, [batch]), values };
}

function labelValues(labels: StepLabels): ArrayLike<number | bigint> {
  return isTensor(labels) ? (labels.data as ArrayLike<number | bigint>) : (labels as ArrayLike<number | bigint>);
}

function argmaxMatches(logits: Float32Array, classes: number, labels: ArrayLike<number | bigint>): number {
  let correct = 0;
  for (let b = 0; b < labels.length; b++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[b * classes + c]! > logits[b * classes + best]!) best = c;
    if (best === Number(labels[b])) correct++;
  }
  return correct;
}

/** A scale stays positive after an update. */
function keepPositive(scales: Float32Array): void {
  for (let i = 0; i < scales.length; i++) scales[i] = Math.max(scales[i]!, 1e-8);
}

/** A graph built for the current switches, with what runs it. */
interface Built {
  /** The training graph, at the batch each session runs (the whole batch, or 1/k with k workers). */
  graph: TrainingGraph;
  /** One step on the whole batch's feeds: the outputs by name. */
  run: (feeds: Record<string, ort.Tensor>) => Promise<(name: string) => Float32Array>;
  /** The session when the step runs in this thread (none with workers). */
  session: ort.InferenceSession | null;
  /** wrt name → gradient output name. */
  gradients: Map<string, string>;
  /** Switch state it was built for. */
  key: string;
}

export class Qat {
  readonly batchSize: number;
  readonly loss: ResolvedLoss;
  readonly optimizer: Optimizer;
  readonly learnScales: boolean;
  readonly learnWeightScales: boolean;
  /** Weight scales recomputed in TypeScript before each step: the per-channel MSE clip of the current weights. */
  readonly mseWeightClip: boolean;
  /** The moving average of the trained values that predict() and the export use (emaDecay; null: the values themselves). */
  readonly average: WeightAverage | null;
  /** Trained weights by name (the graph's inputs; updated in place). */
  readonly params = new Map<string, Param & { dims: number[] }>();
  /** Learned activation scales by the quantized tensor's name (LSQ). */
  readonly scales = new Map<string, Param>();
  /** Learned per-channel weight scales by the weight's name (LSQ on weights). */
  readonly weightScales = new Map<string, Param & { dims: number[] }>();
  /** BatchNormalization running statistics (unfolded-BN models). */
  readonly runningStats = new Map<string, Float32Array>();
  /** Updates applied so far. */
  steps = 0;
  bnFrozen = false;
  lastStep: StepResult | null = null;
  private schedule: LrSchedule;
  private built: Built | null = null;
  private teacherSession: ort.InferenceSession | null = null;
  private pool: StepPool | null = null;
  /** The lr when the options give none: DEFAULT_QAT_LR below 8 bits, DEFAULT_QAT_LR_8BIT when every quantizer has 8. */
  private readonly defaultLr: number;
  private dirtyWeights = false;
  /** The update count the mseWeightClip scales were computed at. */
  private mseClipSteps = -1;
  private readonly paramTensors = new Map<string, ort.Tensor>();
  /** Forward-only graphs for predict(), by batch size. */
  private readonly predictors = new Map<number, { graph: TrainingGraph; session: ort.InferenceSession; key: string }>();

  private constructor(private readonly quantized: QuantizedModel, readonly options: QatOptions) {
    this.batchSize = options.batchSize ?? DEFAULT_QAT_BATCH_SIZE;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${String(options.batchSize)}`);
    this.loss = resolveLoss(options.loss);
    this.defaultLr = defaultQatLr(quantized);
    const spec = resolveOptimizer(options.optimizer, this.defaultLr);
    this.optimizer = makeOptimizer(spec);
    this.schedule = lrSchedule(spec.lr, options.totalSteps ?? 1, this.scheduleSpec(options.totalSteps !== undefined));
    this.learnScales = options.learnScales ?? DEFAULT_LEARN_SCALES;
    this.learnWeightScales = options.learnWeightScales ?? DEFAULT_LEARN_WEIGHT_SCALES;
    this.mseWeightClip = options.mseWeightClip ?? false;
    const ema = options.emaDecay ?? DEFAULT_EMA_DECAY;
    this.average = ema === 0 ? null : new WeightAverage(ema);
    if (this.learnWeightScales && this.mseWeightClip) throw new Error('prepareQat: learnWeightScales and mseWeightClip both set the weight scales; choose one');
  }

  static async create(quantized: QuantizedModel, options: QatOptions = {}): Promise<Qat> {
    const qat = new Qat(quantized, options);
    if (qat.learnScales) {
      const pending = quantized.uncalibrated().filter((s) => s.enabled);
      if (pending.length) throw new Error(`prepareQat: learned scales start from calibrated ones; ${pending.length} activation quantizers are not calibrated (run calibrate() first, or pass learnScales: false)`);
    }
    if (lossNeedsTeacher(qat.loss)) {
      const teacher = options.teacher ?? quantized.model;
      qat.teacherSession = await ort.InferenceSession.create(modelToBytes(teacher), qat.stepSessionOptions());
    }
    await qat.rebuild(); // builds the gradient graph now: a missing gradient builder fails here, before training
    return qat;
  }

  /** The quantized model with the trained weights (and learned scales): export it with saveModel. */
  get model(): QuantizedModel {
    this.sync();
    return this.quantized;
  }

  /** Whether the model has BatchNormalization nodes (BN kept by transform()). */
  get hasBatchNorm(): boolean {
    return this.quantized.model.graph.nodesOf('BatchNormalization').length > 0;
  }

  private switchKey(): string {
    return `${this.quantized.quantizers().map((q) => (q.enabled ? 1 : 0)).join('')}|${this.bnFrozen}`;
  }

  /** Rebuilds the training graph when a switch changed since it was built. */
  private async ensureBuilt(): Promise<Built> {
    if (!this.built || this.built.key !== this.switchKey()) await this.rebuild();
    return this.built!;
  }

  /**
   * Data-parallel workers for the step: `options.workers`, else as many as the cores allow
   * (the largest divisor of the batch up to the core count, at least 4 samples each,
   * at most 8), unless the caller set intra-op threads; 1 (this thread) when
   * BatchNormalization trains on batch statistics (a part's statistics are not the
   * batch's) or the batch does not split evenly.
   */
  private stepWorkers(bnTraining: boolean): number {
    if (bnTraining) return 1;
    if (this.options.workers !== undefined) return this.batchSize % this.options.workers === 0 ? Math.max(1, this.options.workers) : 1;
    if (this.options.sessionOptions?.intraOpNumThreads !== undefined) return 1;
    const most = Math.min(os.availableParallelism(), MAX_DEFAULT_WORKERS, Math.floor(this.batchSize / MIN_SAMPLES_PER_WORKER));
    for (let k = most; k > 1; k--) if (this.batchSize % k === 0) return k;
    return 1;
  }

  /** One-thread sessions in each worker, more when the cores outnumber the workers. */
  private workerThreads(workers: number): number {
    return Math.max(1, Math.floor(os.availableParallelism() / workers));
  }

  private async rebuild(): Promise<void> {
    this.sync(); // the weights and statistics the new graph starts from
    const bnTraining = this.hasBatchNorm && !this.bnFrozen;
    const workers = this.stepWorkers(bnTraining);
    const batch = this.batchSize / workers;
    const graph = buildTrainingGraph(this.quantized, {
      batchSize: batch,
      loss: this.loss,
      learnScales: this.learnScales,
      learnWeightScales: this.weightScaleInputs,
      bnTraining,
      trainable: this.options.trainable,
      output: this.options.output,
    });
    this.adoptParams(graph);
    const teacherZeros = new Map(graph.teachers.map((t) => [t.input, new Float32Array(t.dims.reduce((a, b) => a * b, 1))]));
    const feeds = this.feedsFor(graph, this.zeroInputs(graph), graph.labels ? new Int32Array(batch) : null, teacherZeros, batch);
    // Shape arithmetic (slice offsets, reshape targets) becomes constants: gradient builders need them so.
    const captured = new Map<string, Tensor>();
    const shapes = await staticShapes(graph.model, feeds, { names: shapeComputedValues(graph.model.graph), captured });
    replaceWithConstants(graph.model.graph, captured);
    const wrt = [...graph.params.map((p) => p.name), ...graph.scales.map((s) => s.name), ...(this.learnWeightScales ? graph.weightScales.map((s) => s.name) : [])];
    const block = this.options.nchwc === false ? null : await nchwcBlockSize();
    const backward = buildGradientGraph(graph.model.graph, { loss: graph.loss, wrt, shapes, stopGradient: graph.stopGradient, straightThrough: graph.straightThrough, ...(block !== null ? { blockedConvs: block } : {}) });
    const { gradients } = backward;
    const bytes = modelToBytes(this.runnable(graph.model, backward.shapes, block));
    await this.built?.session?.release();
    // A gradient has its input's shape (backward.shapes may lack a reshaped broadcast sum's, e.g. a [C, 1, 1, 1] weight scale's).
    const grads = [...gradients].map(([x, name]) => ({ name, size: shapes.get(x)!.reduce((a, b) => a * b, 1) }));
    const runner = workers > 1 ? await this.poolRunner(bytes, graph, grads, workers) : await this.inThreadRunner(bytes);
    this.built = { graph, ...runner, gradients, key: this.switchKey() };
  }

  /** One session in this thread. */
  private async inThreadRunner(bytes: Uint8Array): Promise<Pick<Built, 'run' | 'session'>> {
    await this.pool?.release();
    this.pool = null;
    const session = await ort.InferenceSession.create(bytes, this.stepSessionOptions());
    const run = async (all: Record<string, ort.Tensor>) => {
      const out = await session.run(all);
      return (name: string) => out[name]!.data as Float32Array;
    };
    return { run, session };
  }

  /** `workers` worker threads, each running `graph` (built for its share of the batch) on its part. */
  private async poolRunner(bytes: Uint8Array, graph: TrainingGraph, grads: readonly { name: string; size: number }[], workers: number): Promise<Pick<Built, 'run' | 'session'>> {
    if (this.pool?.size !== workers) {
      await this.pool?.release();
      this.pool = StepPool.create(workers);
    }
    const pool = this.pool;
    const shared = [
      ...graph.params.map((p) => ({ name: p.name, value: this.params.get(p.name)!.value, dims: p.dims })),
      ...graph.scales.map((q) => ({ name: q.name, value: this.scales.get(q.tensor)!.value, dims: [] })),
      ...graph.weightScales.map((q) => ({ name: q.name, value: this.weightScales.get(q.tensor)!.value, dims: q.dims })),
    ];
    await pool.load(bytes, { ...this.stepSessionOptions(), intraOpNumThreads: this.workerThreads(workers) }, shared, grads);
    const batched = [...graph.dataInputs.map((d) => d.name), ...(graph.labels ? [graph.labels] : []), ...graph.teachers.map((t) => t.input)];
    const run = async (all: Record<string, ort.Tensor>) => {
      const r = await pool.run(Object.fromEntries(batched.map((n) => [n, all[n]!])), graph.loss, graph.logits);
      const loss = new Float32Array([r.loss]);
      return (name: string) => (name === graph.loss ? loss : name === graph.logits ? r.logits : r.grads.get(name)!);
    };
    return { run, session: null };
  }

  /** Worker threads the step runs on (1: one session in this thread). */
  get workers(): number {
    return this.pool?.size ?? 1;
  }

  /**
   * Options of the sessions a step runs: onnxruntime's idle threads do not spin-wait
   * (util/no-spinning.ts; between runs the optimizer update runs on the main
   * thread, and the teacher's session by turns with distillation), and no QDQ graph
   * transformers (they serve int8 inference: here they only duplicated each fake quant's
   * DequantizeLinear per consumer). The caller's `extra` entries win.
   */
  private stepSessionOptions(): ort.InferenceSession.SessionOptions {
    const user = this.options.sessionOptions ?? {};
    const userExtra = (user.extra ?? {}) as { session?: Record<string, unknown> };
    const session = { ...NO_SPINNING.session, disable_quant_qdq: '1', ...userExtra.session };
    return { graphOptimizationLevel: 'all', ...user, extra: { ...userExtra, session } };
  }

  /** What the session runs: the training graph with its convs on NCHWc kernels where possible (a copy; `trainingGraph()` stays standard ONNX). */
  private runnable(model: Model, shapes: ReadonlyMap<string, readonly number[]>, block: number | null): Model {
    if (block === null) return model;
    const lowered = model.clone();
    lowerConvsToNchwc(lowered, shapes, block);
    keepBlocked(lowered, shapes, block);
    return lowered;
  }

  /** Takes the graph's trainable tensors' values from the model, once (later rebuilds keep the trained ones). */
  private adoptParams(graph: TrainingGraph): void {
    const src = this.quantized.model.graph;
    for (const p of graph.params) {
      if (this.params.has(p.name)) continue;
      const value = src.value(p.name)!.initializer!.toFloat32Copy();
      this.params.set(p.name, { name: p.name, value, dims: p.dims, decay: p.dims.length >= 2 });
      this.paramTensors.set(p.name, new ort.Tensor('float32', value, p.dims));
    }
    for (const s of graph.scales) {
      if (this.scales.has(s.tensor)) continue;
      const stub = this.quantized.stubs().find((q) => q.tensor.name === s.tensor)!;
      this.scales.set(s.tensor, { name: s.name, value: new Float32Array([stub.scale[0]!]), decay: false, lrFactor: this.options.scaleLrFactor ?? DEFAULT_SCALE_LR_FACTOR });
    }
    for (const s of graph.weightScales) {
      if (this.weightScales.has(s.tensor)) continue;
      const lrFactor = this.options.weightScaleLrFactor ?? DEFAULT_WEIGHT_SCALE_LR_FACTOR;
      this.weightScales.set(s.tensor, { name: s.name, value: this.initialWeightScale(s.tensor), dims: s.dims, decay: false, lrFactor });
    }
    for (const r of graph.runningStats) {
      if (!this.runningStats.has(r.input)) this.runningStats.set(r.input, src.value(r.input)!.initializer!.toFloat32Copy());
    }
  }

  /** The weight scales are graph inputs: learned, or recomputed in TypeScript (mseWeightClip). */
  private get weightScaleInputs(): boolean {
    return this.learnWeightScales || this.mseWeightClip;
  }

  /** A weight scale's start: the quantizer's own (max |w| / qmax), or MSE-optimal per channel. */
  private initialWeightScale(tensor: string): Float32Array {
    const wq = this.quantized.weightQuantizers().find((q) => q.tensor.name === tensor)!;
    if (!this.mseWeightClip && (this.options.weightScaleInit ?? DEFAULT_WEIGHT_SCALE_INIT) === 'max') return wq.scale.slice();
    return this.mseScalesOf(tensor);
  }

  /** The per-channel MSE clip of a weight as it is now (trained or not). */
  private mseScalesOf(tensor: string): Float32Array {
    const wq = this.quantized.weightQuantizers().find((q) => q.tensor.name === tensor)!;
    const dims = this.params.get(tensor)?.dims ?? [...this.quantized.model.graph.value(tensor)!.initializer!.dims];
    const values = this.params.get(tensor)?.value ?? this.quantized.model.graph.value(tensor)!.initializer!.toFloat32Copy();
    const inner = wq.axis === null ? values.length : dims.slice(wq.axis + 1).reduce((a, b) => a * b, 1);
    return mseWeightScales(values, wq.scale.length, inner, integerRange(wq.config).qmax);
  }

  /** mseWeightClip: the scales follow the weights, once per update. */
  private refreshMseClips(): void {
    if (!this.mseWeightClip || this.mseClipSteps === this.steps) return;
    for (const [tensor, p] of this.weightScales) p.value.set(this.mseScalesOf(tensor));
    this.mseClipSteps = this.steps;
  }

  private zeroInputs(graph: TrainingGraph): Record<string, ort.Tensor> {
    return Object.fromEntries(graph.dataInputs.map((d) => [d.name, new ort.Tensor('float32', new Float32Array(d.dims.reduce((a, b) => a * b, 1)), d.dims)]));
  }

  /** The feeds of a step on `batch` samples (the whole batch; the graph's own when building it). */
  private feedsFor(graph: TrainingGraph, inputs: Record<string, ort.Tensor>, labels: StepLabels | null, teachers: ReadonlyMap<string, Float32Array>, batch = this.batchSize): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = { ...inputs };
    if (graph.labels) feeds[graph.labels] = labelsTensor(labels!, batch).tensor;
    for (const t of graph.teachers) feeds[t.input] = new ort.Tensor('float32', teachers.get(t.input)!, [batch, ...t.dims.slice(1)]);
    for (const p of graph.params) feeds[p.name] = this.paramTensors.get(p.name)!;
    this.feedScales(graph, feeds);
    for (const r of graph.runningStats) {
      const v = this.runningStats.get(r.input)!;
      feeds[r.input] = new ort.Tensor('float32', v, [v.length]);
    }
    return feeds;
  }

  /** Learned activation and weight scales as the graph's inputs (their averages when `evaluating` with emaDecay). */
  private feedScales(graph: TrainingGraph, feeds: Record<string, ort.Tensor>, evaluating = false): void {
    this.refreshMseClips();
    const value = (p: Param) => (evaluating ? this.evaluated(p) : p.value);
    for (const s of graph.scales) feeds[s.name] = new ort.Tensor('float32', value(this.scales.get(s.tensor)!), []);
    for (const s of graph.weightScales) feeds[s.name] = new ort.Tensor('float32', value(this.weightScales.get(s.tensor)!), s.dims);
  }

  /** What predict() and the export use of a trained value: its moving average with emaDecay, else the value. */
  private evaluated(p: Param): Float32Array {
    return this.average?.get(p.name) ?? p.value;
  }

  /** Names the batch's tensors after the graph's data inputs, checking their shapes. */
  private namedInputs(graph: TrainingGraph, inputs: StepInputs): Record<string, ort.Tensor> {
    const single = isTensor(inputs);
    const record: Record<string, ort.Tensor> = single ? { [graph.dataInputs[0]!.name]: inputs } : (inputs as Record<string, ort.Tensor>);
    if (single && graph.dataInputs.length !== 1) throw new Error(`qat.step: the model has ${graph.dataInputs.length} inputs; pass a name → tensor record`);
    for (const d of graph.dataInputs) {
      const t = record[d.name];
      if (!t) throw new Error(`qat.step: no tensor for model input '${d.name}'`);
      const want = [this.batchSize, ...d.dims.slice(1)];
      if (t.dims.length !== want.length || t.dims.some((x, i) => x !== want[i])) {
        throw new Error(`qat.step: input '${d.name}' has shape [${t.dims.join(', ')}], the training graph takes [${want.join(', ')}] (batch ${this.batchSize} is fixed; trainingBatches drops the last partial batch)`);
      }
    }
    return record;
  }

  /** The FP32 teacher's value of every output the loss reads, by the graph input that takes it. */
  private async teacherOutputs(inputs: Record<string, ort.Tensor>, graph: TrainingGraph): Promise<Map<string, Float32Array>> {
    const s = this.teacherSession!;
    const out = await s.run(Object.fromEntries(s.inputNames.map((n) => [n, inputs[n]!])));
    return new Map(graph.teachers.map((t) => {
      const v = out[t.output];
      const size = this.batchSize * t.dims.slice(1).reduce((a, b) => a * b, 1);
      if (!v) throw new Error(`distillation: the teacher has no output ${t.output}; its outputs: ${s.outputNames.join(', ')}`);
      if (v.size !== size) throw new Error(`distillation: the teacher's output ${t.output} has ${v.size} values, expected ${this.batchSize}×${t.dims.slice(1).join('×')}`);
      return [t.input, v.data as Float32Array];
    }));
  }

  /** One training step on a batch: forward, backward, update. Returns the loss. */
  async step(inputs: StepInputs, labels?: StepLabels): Promise<number> {
    const built = await this.ensureBuilt();
    const { graph, gradients } = built;
    if (graph.labels && labels === undefined) throw new Error(`qat.step: the ${this.loss.type} loss needs labels`);
    const named = this.namedInputs(graph, inputs);
    const teachers = graph.teachers.length ? await this.teacherOutputs(named, graph) : new Map<string, Float32Array>();
    const feeds = this.feedsFor(graph, named, labels ?? null, teachers);
    const out = await built.run(feeds);
    const loss = out(graph.loss)[0]!;
    if (!Number.isFinite(loss)) throw new Error(`qat.step ${this.steps}: the loss is ${loss}; lower the learning rate or clip gradients (clipGradNorm)`);

    const params: Param[] = [];
    const grads: Float32Array[] = [];
    for (const p of graph.params) {
      const g = gradients.get(p.name);
      if (!g) continue; // no path to the loss
      params.push(this.params.get(p.name)!);
      grads.push(out(g));
    }
    // Activation and weight scales step with the weights, at their own lrFactor: a second
    // optimizer.step would count a second AdamW step (its bias correction runs on the count).
    const scaleParams: Param[] = [];
    for (const [list, values] of [[graph.scales, this.scales], [graph.weightScales, this.weightScales]] as const) {
      for (const s of list) {
        const g = gradients.get(s.name);
        if (!g) continue;
        scaleParams.push(values.get(s.tensor)!);
        grads.push(out(g));
      }
    }
    params.push(...scaleParams);
    const gradNorm = clipGradNorm(grads, this.options.clipGradNorm ?? Infinity);
    const lr = this.schedule(this.steps);
    this.optimizer.step(params, grads, lr);
    for (const p of scaleParams) keepPositive(p.value);
    this.average?.update([...this.params.values(), ...this.scales.values(), ...this.weightScales.values()]);
    for (const r of graph.runningStats) this.runningStats.get(r.input)!.set(out(r.output));
    this.steps++;
    this.dirtyWeights = true;

    const logits = out(graph.logits);
    const correct = labels === undefined ? null : argmaxMatches(logits, graph.classes, labelValues(labels));
    this.lastStep = { loss, lr, gradNorm, correct, samples: this.batchSize };
    return loss;
  }

  /**
   * Logits of the current weights with fake quant as switched (BatchNormalization on its
   * running statistics): the simulated quantized model, for evaluation at any batch size.
   */
  async predict(inputs: StepInputs): Promise<Float32Array> {
    const first = isTensor(inputs) ? inputs : Object.values(inputs)[0]!;
    const batch = first.dims[0]!;
    let p = this.predictors.get(batch);
    // BatchNormalization statistics are constants of the predictor graph: rebuild after steps moved them.
    const key = `${this.switchKey()}|${this.runningStats.size ? this.steps : 0}`;
    if (this.runningStats.size) this.sync();
    if (!p || p.key !== key) {
      await p?.session.release();
      const graph = buildTrainingGraph(this.quantized, { batchSize: batch, loss: null, learnScales: this.learnScales, learnWeightScales: this.weightScaleInputs, bnTraining: false, trainable: this.options.trainable, output: this.options.output });
      const session = await ort.InferenceSession.create(modelToBytes(graph.model), { graphOptimizationLevel: 'all', ...this.options.sessionOptions });
      p = { graph, session, key };
      this.predictors.set(batch, p);
    }
    const feeds: Record<string, ort.Tensor> = isTensor(inputs) ? { [p.graph.dataInputs[0]!.name]: inputs } : { ...(inputs as Record<string, ort.Tensor>) };
    for (const q of p.graph.params) feeds[q.name] = this.average ? new ort.Tensor('float32', this.evaluated(this.params.get(q.name)!), q.dims) : this.paramTensors.get(q.name)!;
    this.feedScales(p.graph, feeds, true);
    const out = await p.session.run(feeds);
    return out[p.graph.logits]!.data as Float32Array;
  }

  /** Writes the trained weights, scales and statistics into the quantized model. */
  sync(): void {
    if (!this.dirtyWeights) return;
    const g = this.quantized.model.graph;
    for (const p of this.params.values()) g.value(p.name)!.initializer = Tensor.fromArray(this.evaluated(p).slice(), p.dims, DataType.FLOAT);
    for (const [name, v] of this.runningStats) g.value(name)!.initializer = Tensor.fromArray(v.slice(), [v.length], DataType.FLOAT);
    this.refreshMseClips();
    for (const wq of this.quantized.weightQuantizers()) {
      const learned = this.weightScales.get(wq.tensor.name);
      if (learned) wq.setScales(this.evaluated(learned));
      else wq.refresh();
    }
    // A scale group's stubs share the scale learned under its first member's name.
    const owner = new Map((this.built?.graph.scales ?? []).flatMap((s) => s.members.map((m) => [m, s.tensor] as const)));
    for (const stub of this.quantized.stubs()) {
      const s = this.scales.get(owner.get(stub.tensor.name) ?? stub.tensor.name);
      if (!s || !stub.range) continue;
      // The range follows the learned scale (what describe() and a re-export report).
      const scale = this.evaluated(s)[0]!;
      const amax = scale * integerRange(stub.config).qmax;
      stub.range = { ...stub.range, amax, min: stub.config.symmetric ? -amax : stub.range.min, max: stub.config.symmetric ? amax : stub.range.max };
      stub.scale[0] = scale;
    }
    this.dirtyWeights = false;
  }

  /** Sets how many updates the learning-rate schedule spans (the trainer: epochs × batches). */
  setTotalSteps(totalSteps: number): void {
    this.schedule = lrSchedule(resolveOptimizer(this.options.optimizer, this.defaultLr).lr, totalSteps, this.scheduleSpec(true));
  }

  /**
   * The default recipe's schedule with the fields the options give. Until the span is known
   * (trainQat, setTotalSteps or options.totalSteps) the default stays constant: a cosine over
   * an unknown span would drop the lr to 0 after the first step of a hand-written loop.
   */
  private scheduleSpec(spanKnown: boolean): ScheduleSpec {
    const s = this.options.schedule ?? {};
    return { ...s, type: s.type ?? (spanKnown ? DEFAULT_QAT_SCHEDULE.type : 'constant') };
  }

  /** What this run trains: a checkpoint from another model or setup must not be resumed into it. */
  fingerprint(): string {
    const params = [...this.params.values()].map((p) => `${p.name}:${p.dims.join('x')}`).join(',');
    const weightScales = this.weightScales.size ? { weightScales: [...this.weightScales.keys()] } : {}; // absent: older checkpoints still match
    return JSON.stringify({ params, scales: [...this.scales.keys()], ...weightScales, batch: this.batchSize, loss: this.loss, optimizer: this.optimizer.type });
  }

  /** The training state after `epoch` completed epochs. */
  toCheckpoint(epoch: number, history: unknown[] = []): Checkpoint {
    return {
      epoch,
      steps: this.steps,
      fingerprint: this.fingerprint(),
      params: new Map([...this.params].map(([k, p]) => [k, p.value])),
      scales: new Map([...this.scales].map(([k, p]) => [k, p.value])),
      weightScales: new Map([...this.weightScales].map(([k, p]) => [k, p.value])),
      runningStats: new Map(this.runningStats),
      ...(this.average ? { average: { updates: this.average.updates, values: this.average.entries() } } : {}),
      optimizer: this.optimizer.state(),
      history,
    };
  }

  /** Restores weights, scales, statistics and optimizer state from a checkpoint of the same run. */
  restore(c: Checkpoint, where = 'checkpoint'): void {
    if (c.fingerprint !== this.fingerprint()) throw new Error(`${where} was written for another model or training setup (parameters, batch size, loss or optimizer differ); start without --resume or use another checkpoint folder`);
    for (const [k, v] of c.params) this.params.get(k)!.value.set(v);
    for (const [k, v] of c.scales) this.scales.get(k)?.value.set(v);
    for (const [k, v] of c.weightScales) this.weightScales.get(k)?.value.set(v);
    for (const [k, v] of c.runningStats) this.runningStats.get(k)?.set(v);
    const buffers = Object.fromEntries(Object.entries(c.optimizer.buffers).map(([k, v]) => [k, v.slice()]));
    this.optimizer.loadState({ step: c.optimizer.step, buffers });
    // A checkpoint written without emaDecay restarts the average from the restored values.
    this.average?.load(c.average?.updates ?? 0, c.average?.values ?? new Map());
    this.steps = c.steps;
    this.mseClipSteps = -1;
    this.dirtyWeights = true;
  }

  /** The training graph of the current switches (for inspection and tests). */
  async trainingGraph(): Promise<TrainingGraph & { gradients: Map<string, string> }> {
    const b = await this.ensureBuilt();
    return { ...b.graph, gradients: b.gradients };
  }

  async release(): Promise<void> {
    for (const p of this.predictors.values()) await p.session.release();
    this.predictors.clear();
    await this.built?.session?.release();
    await this.pool?.release();
    await this.teacherSession?.release();
    this.pool = null;
    this.built = null;
    this.teacherSession = null;
  }
}

/** Prepares QAT on a calibrated QuantizedModel, which it trains in place (`qat.model` is it). */
export async function prepareQat(quantized: QuantizedModel, options: QatOptions = {}): Promise<Qat> {
  return Qat.create(quantized, options);
}

export { lossNeedsLabels };
