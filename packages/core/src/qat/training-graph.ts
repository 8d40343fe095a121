/**
 * The forward half of a QAT training step as one ONNX graph: the quantized model with its
 * quantizers written as fake quant (Q→DQ), trainable weights turned into graph inputs, the
 * batch baked in (static shapes), and a loss on the logits. The backward half is appended
 * by autodiff's buildGradientGraph.
 */
import { DataType } from '../ir/dtype.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import type { ScaleGroup } from '../quantize/scale-groups.js';
import { QuantStub } from '../quantize/quant-stub.js';
import { fakeQuantSite, moveBelow } from './fake-quant-site.js';
import { addActivationFakeQuant, addLearnedWeightFakeQuant, addWeightFakeQuant, weightScaleDims } from './fake-quant.js';
import { addLoss, type LossOutput, type ResolvedLoss } from './loss.js';
import { addTypedInput, setBatch } from './ops.js';

export interface TrainingGraphOptions {
  batchSize: number;
  /** null: a forward-only graph whose one output is the logits (evaluation with fake quant). */
  loss: ResolvedLoss | null;
  /** Activation scales as graph inputs (LSQ) instead of constants. */
  learnScales: boolean;
  /** Per-channel weight scales as graph inputs (LSQ) instead of max |w| / qmax recomputed each step. */
  learnWeightScales?: boolean;
  /** BatchNormalization nodes use batch statistics and update their running averages. */
  bnTraining: boolean;
  /** Whether an initializer is trained (default: every float initializer of ≥ 2 elements). */
  trainable?: (name: string) => boolean;
  /** The logits output (default: the model's first output). */
  output?: string;
}

/** A BatchNormalization running statistic: fed as `input`, its update comes out as `output`. */
export interface RunningStat {
  input: string;
  output: string;
}

export interface TrainingGraph {
  model: Model;
  /** The model's data inputs (batch baked in). */
  dataInputs: { name: string; dims: number[] }[];
  labels: string | null;
  /** Distillation: graph inputs fed with the FP32 model's value of `output` (dims: batch baked in). */
  teachers: { input: string; output: string; dims: number[] }[];
  /** The loss value ('' in a forward-only graph). */
  loss: string;
  /** The logits (the first output the loss reads); `classes`: its values per sample. */
  logits: string;
  classes: number;
  /** Trained weights, now graph inputs, with their shapes. */
  params: { name: string; dims: number[] }[];
  /** Learned activation scales (LSQ), graph inputs of shape [], keyed by the stub's tensor; `members`: every stub tensor using it (a scale group's stubs share one). */
  scales: { name: string; tensor: string; members: string[] }[];
  /** Learned weight scales, graph inputs of shape weightScaleDims, keyed by the weight's name. */
  weightScales: { name: string; tensor: string; dims: number[] }[];
  runningStats: RunningStat[];
  /** In-graph weight scales: no gradient flows through them. */
  stopGradient: Set<string>;
  /** Fake-quantized weight → weight, for chains whose gradient is the identity (GradientOptions.straightThrough). */
  straightThrough: Map<string, string>;
}

/** BatchNormalization inputs 3 and 4 are running statistics, never trained. */
function isRunningStat(v: Value): boolean {
  return v.uses.some((u) => u.node.opType === 'BatchNormalization' && u.index >= 3);
}

function defaultTrainable(v: Value): boolean {
  const t = v.initializer;
  return t !== null && t.dataType === DataType.FLOAT && t.size >= 2 && !isRunningStat(v);
}

function staticDims(v: Value, batch: number, what: string): number[] {
  const shape = v.shape;
  if (!shape || shape.length === 0) throw new Error(`prepareQat: ${what} ${v.name} has no declared shape; QAT needs static shapes`);
  return shape.map((d, i) => {
    if (i === 0) return batch;
    if (typeof d !== 'number' || d <= 0) throw new Error(`prepareQat: ${what} ${v.name} has a dynamic dimension ${i} (${String(d)}); only the batch axis may be dynamic`);
    return d;
  });
}

export function buildTrainingGraph(qm: QuantizedModel, options: TrainingGraphOptions): TrainingGraph {
  const src = qm.model;
  const opset = src.opset('') ?? 0;
  const model = src.clone();
  const g = model.graph;
  const batch = options.batchSize;
  const nodeMap = new Map<Node, Node>(src.graph.nodes.map((n, i) => [n, g.nodes[i]!]));
  const valueOf = (v: Value) => g.value(v.name)!;

  const lossOutputs = readOutputs(g.outputs, options, batch);
  const logitsValue = lossOutputs[0]!.value;
  const logitDims = lossOutputs[0]!.dims;

  const dataInputs = g.inputs.filter((v) => !v.isInitializer).map((v) => ({ name: v.name, dims: staticDims(v, batch, 'input') }));
  for (const v of g.inputs) setBatch(v, batch);
  for (const v of g.outputs) setBatch(v, batch);

  // Trainable initializers become inputs; the weight quantizers read them there.
  const isTrainable = (v: Value) => defaultTrainable(v) && (options.trainable?.(v.name) ?? true);
  const params: TrainingGraph['params'] = [];
  for (const v of g.initializers()) {
    if (!isTrainable(v)) continue;
    const dims = [...v.initializer!.dims];
    v.initializer = null;
    g.inputs = g.inputs.filter((x) => x !== v);
    addTypedInput(g, v, DataType.FLOAT, dims);
    params.push({ name: v.name, dims });
  }
  const paramDims = new Map(params.map((p) => [p.name, p.dims]));

  const stopGradient = new Set<string>();
  const straightThrough = new Map<string, string>();
  const scales: TrainingGraph['scales'] = [];
  // Stubs that must share one scale (Concat, Split, MaxPool groups; TensorRT needs them equal) learn one.
  const groupOf = new Map(qm.scaleGroups().flatMap((grp) => grp.stubs.map((st) => [st, grp] as const)));
  const scaleOf = new Map<ScaleGroup, TrainingGraph['scales'][number]>();
  const weightScales: TrainingGraph['weightScales'] = [];
  const stubTensors = new Set(qm.quantizers().filter((q) => q.enabled && q instanceof QuantStub).map((q) => q.tensor.name));
  for (const q of qm.quantizers()) {
    if (!q.enabled) continue;
    if (q instanceof QuantStub) {
      const group = groupOf.get(q);
      const entry = group ? scaleOf.get(group) : undefined;
      const readers = q.uses.map((u) => ({ node: nodeMap.get(u.node)!, index: u.index }));
      const x = valueOf(q.tensor);
      const site = fakeQuantSite(g, x, readers, (v) => stubTensors.has(v.name));
      const { out, scaleInput } = addActivationFakeQuant(g, site.input, q, options.learnScales, entry ? g.value(entry.name)! : null, x.name);
      if (entry) entry.members.push(q.tensor.name);
      else if (scaleInput) {
        const created = { name: scaleInput.name, tensor: q.tensor.name, members: [q.tensor.name] };
        scales.push(created);
        if (group) scaleOf.set(group, created);
      }
      const read = site.transpose ? moveBelow(g, site.transpose, out) : out;
      for (const r of readers) r.node.setInput(r.index, read);
      continue;
    }
    const w = valueOf(q.tensor);
    const dims = paramDims.get(w.name) ?? w.initializer?.dims;
    if (!dims) throw new Error(`prepareQat: weight ${w.name} of ${q.describe()} is neither trained nor an initializer`);
    const wq = q as Parameters<typeof addWeightFakeQuant>[4];
    let out: Value;
    if (options.learnWeightScales) {
      const learned = addLearnedWeightFakeQuant(g, w, dims, wq);
      weightScales.push({ name: learned.scaleInput.name, tensor: w.name, dims: weightScaleDims(dims, wq.axis) });
      out = learned.out;
    } else {
      const fixed = addWeightFakeQuant(g, opset, w, dims, wq);
      for (const v of fixed.stop) stopGradient.add(v.name);
      straightThrough.set(fixed.out.name, w.name);
      out = fixed.out;
    }
    for (const m of q.matches) {
      for (const n of m.nodes) {
        const c = nodeMap.get(n)!;
        c.inputs.forEach((v, i) => v === w && c.setInput(i, out));
      }
    }
  }

  const runningStats: RunningStat[] = [];
  if (options.bnTraining) runningStats.push(...trainBatchNorms(g));

  const lossGraph = options.loss ? addLoss(g, lossOutputs, batch, options.loss) : null;
  g.outputs = [...(lossGraph ? [lossGraph.loss] : []), logitsValue, ...runningStats.map((r) => g.value(r.output)!)];
  g.cleanup().toposort();
  return {
    model,
    dataInputs,
    labels: lossGraph?.labels?.name ?? null,
    teachers: (lossGraph?.teachers ?? []).map((t) => ({ input: t.input.name, output: t.output.name, dims: [...t.dims] })),
    loss: lossGraph?.loss.name ?? '',
    logits: logitsValue.name,
    classes: logitDims.slice(1).reduce((a, b) => a * b, 1),
    params,
    scales,
    weightScales,
    runningStats,
    stopGradient,
    straightThrough,
  };
}

/**
 * The outputs the loss reads, with static dims: the logits ([batch, classes]; `output` or
 * the first), or, for output distillation, every float output (or just `output`). A
 * forward-only graph (no loss) returns `output` or the first, of any shape.
 */
function readOutputs(outputs: readonly Value[], options: TrainingGraphOptions, batch: number): LossOutput[] {
  const named = options.output ? outputs.filter((o) => o.name === options.output) : outputs;
  if (named.length === 0) throw new Error(`prepareQat: the model has no output ${options.output}; outputs: ${outputs.map((o) => o.name).join(', ')}`);
  if (options.loss?.type === 'output-distillation') {
    const floats = named.filter((o) => o.elemType === null || o.elemType === DataType.FLOAT);
    if (floats.length === 0) throw new Error(`prepareQat: output distillation needs a float output; outputs: ${outputs.map((o) => o.name).join(', ')}`);
    return floats.map((value) => ({ value, dims: staticDims(value, batch, 'output') }));
  }
  const value = named[0]!;
  const dims = staticDims(value, batch, 'output');
  if (options.loss && dims.length !== 2) throw new Error(`prepareQat: output ${value.name} has shape [${dims.join(', ')}]; the ${options.loss.type} loss needs logits of shape [batch, classes] (for other outputs, such as a detector's heads, use the output-distillation loss)`);
  return [{ value, dims }];
}

/**
 * Switches every BatchNormalization to training mode (batch statistics) with its running
 * mean and variance as graph inputs and their updates as outputs.
 */
function trainBatchNorms(g: Model['graph']): RunningStat[] {
  const stats: RunningStat[] = [];
  for (const n of g.nodesOf('BatchNormalization')) {
    n.setAttr('training_mode', 1);
    const outs = [n.output(0)];
    for (const k of [3, 4]) {
      const v = n.input(k)!;
      const t = v.initializer;
      if (!t) throw new Error(`prepareQat: ${n.describe()} reads its running statistic ${v.name} from a computed value; training-mode BatchNormalization needs initializers`);
      v.initializer = null;
      addTypedInput(g, v, DataType.FLOAT, t.dims);
      const updated = g.addValue(`${v.name}_qat_updated`);
      outs.push(updated);
      stats.push({ input: v.name, output: updated.name });
    }
    n.setOutputs(outs);
  }
  return stats;
}
