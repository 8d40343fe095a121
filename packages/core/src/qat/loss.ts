/**
 * Loss subgraphs appended to the training graph: softmax cross-entropy on labels (with
 * label smoothing), knowledge distillation from the FP32 model's logits (KL divergence
 * at a temperature, scaled by T² as in Hinton et al.), optionally mixed with the labels,
 * and output distillation for models whose outputs are not class logits (detector heads,
 * segmentation maps): each output's squared error relative to the FP32 model's.
 */
import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import { addTypedInput, int64s, op, reduce, scalarFloat } from './ops.js';
import { Tensor } from '../ir/tensor.js';
import { DEFAULT_LABEL_SMOOTHING } from './options.js';

export type LossSpec =
  | { type: 'cross-entropy'; /** Default DEFAULT_LABEL_SMOOTHING (0.2). */ labelSmoothing?: number }
  | { type: 'distillation'; temperature?: number; /** Weight of the KL term; 1 − alpha goes to cross-entropy on labels (needs labels when < 1). Default 1. */ alpha?: number; labelSmoothing?: number }
  | { type: 'output-distillation' };

export type LossName = LossSpec['type'];

export type ResolvedLoss =
  | { type: 'cross-entropy'; labelSmoothing: number }
  | { type: 'distillation'; temperature: number; alpha: number; labelSmoothing: number }
  | { type: 'output-distillation' };

/** A model output the loss reads, with its static dims (batch first). */
export interface LossOutput {
  value: Value;
  dims: readonly number[];
}

/** The inputs the loss reads besides the model's outputs. */
export interface LossGraph {
  loss: Value;
  /** int64 [batch] class indices, when the loss uses labels. */
  labels: Value | null;
  /** For distillation: per output read, the graph input taking the FP32 model's value of it (and its dims). */
  teachers: { input: Value; output: Value; dims: readonly number[] }[];
}

export function resolveLoss(spec: LossSpec | LossName | undefined): ResolvedLoss {
  const s: LossSpec = typeof spec === 'string' ? ({ type: spec } as LossSpec) : (spec ?? { type: 'cross-entropy' });
  const check = (name: string, v: number, lo: number, hi: number, loOpen = false) => {
    if (!Number.isFinite(v) || v > hi || (loOpen ? v <= lo : v < lo)) throw new Error(`loss.${name} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
    return v;
  };
  if (s.type === 'cross-entropy') return { type: 'cross-entropy', labelSmoothing: check('labelSmoothing', s.labelSmoothing ?? DEFAULT_LABEL_SMOOTHING, 0, 1) };
  if (s.type === 'distillation') {
    return {
      type: 'distillation',
      temperature: check('temperature', s.temperature ?? 1, 0, 1000, true),
      alpha: check('alpha', s.alpha ?? 1, 0, 1),
      labelSmoothing: check('labelSmoothing', s.labelSmoothing ?? 0, 0, 1),
    };
  }
  if (s.type === 'output-distillation') return { type: 'output-distillation' };
  throw new Error(`loss must be "cross-entropy", "distillation" or "output-distillation", got ${JSON.stringify((s as { type: unknown }).type)}`);
}

/** Whether the loss needs labels in every batch. */
export function lossNeedsLabels(spec: ResolvedLoss): boolean {
  return spec.type === 'cross-entropy' || (spec.type === 'distillation' && spec.alpha < 1);
}

/** Whether the loss reads the FP32 model's outputs (a teacher session runs beside the step). */
export function lossNeedsTeacher(spec: ResolvedLoss): boolean {
  return spec.type !== 'cross-entropy';
}

/** −mean over the batch of Σ_c target(c) · logp(c). */
function expectedNegLogLik(g: Graph, target: Value, logp: Value, batch: number, base: string): Value {
  const sum = reduce(g, 0, 'ReduceSum', op(g, 'Mul', [target, logp], base), null, 0, base);
  return op(g, 'Mul', [sum, scalarFloat(g, `${base}_neg_inv_batch`, -1 / batch)], base);
}

/** Cross-entropy with label smoothing ε: targets (1 − ε)·onehot + ε / C. */
function crossEntropy(g: Graph, logits: Value, labels: Value, batch: number, classes: number, smoothing: number): Value {
  const base = 'qat_ce';
  const off = smoothing / classes;
  const values = g.addInitializer(g.uniqueName(`${base}_onehot_values`), Tensor.fromArray(new Float32Array([off, 1 - smoothing + off]), [2]));
  const target = op(g, 'OneHot', [labels, int64s(g, `${base}_depth`, [classes], []), values], base, { axis: -1 });
  const logp = op(g, 'LogSoftmax', [logits], base, { axis: 1 });
  return expectedNegLogLik(g, target, logp, batch, base);
}

/** T² · KL(softmax(t / T) ‖ softmax(s / T)), averaged over the batch. */
function distillation(g: Graph, logits: Value, teacher: Value, batch: number, temperature: number): Value {
  const base = 'qat_kd';
  const invT = scalarFloat(g, `${base}_inv_temperature`, 1 / temperature);
  const logPt = op(g, 'LogSoftmax', [op(g, 'Mul', [teacher, invT], `${base}_teacher`)], `${base}_teacher`, { axis: 1 });
  const pt = op(g, 'Exp', [logPt], `${base}_teacher`);
  const logPs = op(g, 'LogSoftmax', [op(g, 'Mul', [logits, invT], base)], base, { axis: 1 });
  const diff = op(g, 'Sub', [logPt, logPs], base);
  const sum = reduce(g, 0, 'ReduceSum', op(g, 'Mul', [pt, diff], base), null, 0, base);
  return op(g, 'Mul', [sum, scalarFloat(g, `${base}_scale`, (temperature * temperature) / batch)], base);
}

/**
 * Mean over the outputs of Σ (s − t)² / Σ t² per output: each output's squared error
 * relative to the teacher's, so heads of different scales weigh alike (the denominator
 * is the fed teacher's, a constant to the gradient).
 */
function outputDistillation(g: Graph, pairs: readonly { student: Value; teacher: Value }[]): Value {
  const base = 'qat_od';
  const terms = pairs.map(({ student, teacher }) => {
    const d = op(g, 'Sub', [student, teacher], base);
    const err = reduce(g, 0, 'ReduceSum', op(g, 'Mul', [d, d], base), null, 0, base);
    const norm = reduce(g, 0, 'ReduceSum', op(g, 'Mul', [teacher, teacher], `${base}_teacher`), null, 0, `${base}_teacher`);
    // A teacher output of zeros: the plain squared error instead of 0/0.
    return op(g, 'Div', [err, op(g, 'Max', [norm, scalarFloat(g, `${base}_tiny`, 1e-12)], base)], base);
  });
  const sum = terms.length === 1 ? terms[0]! : op(g, 'Sum', terms, base);
  return op(g, 'Mul', [sum, scalarFloat(g, `${base}_inv_outputs`, 1 / terms.length)], base);
}

/**
 * Appends the loss and its inputs (labels, the teacher's outputs). `outputs`: the model
 * outputs it reads, the logits ([batch, classes]) first; only output distillation reads
 * more than the first.
 */
export function addLoss(g: Graph, outputs: readonly LossOutput[], batch: number, spec: ResolvedLoss): LossGraph {
  const needLabels = lossNeedsLabels(spec);
  const labels = needLabels ? addTypedInput(g, g.addValue('qat_labels'), DataType.INT64, [batch]) : null;
  const teacherOf = (o: LossOutput, name: string) => ({ input: addTypedInput(g, g.addValue(name), DataType.FLOAT, o.dims), output: o.value, dims: o.dims });
  if (spec.type === 'output-distillation') {
    const teachers = outputs.map((o, i) => teacherOf(o, `qat_teacher_output_${i}`));
    return { loss: outputDistillation(g, teachers.map((t) => ({ student: t.output, teacher: t.input }))), labels, teachers };
  }
  const logits = outputs[0]!.value;
  const classes = outputs[0]!.dims[1]!;
  if (spec.type === 'cross-entropy') return { loss: crossEntropy(g, logits, labels!, batch, classes, spec.labelSmoothing), labels, teachers: [] };
  const teacher = teacherOf(outputs[0]!, 'qat_teacher_logits');
  let loss = distillation(g, logits, teacher.input, batch, spec.temperature);
  if (spec.alpha < 1) {
    const ce = crossEntropy(g, logits, labels!, batch, classes, spec.labelSmoothing);
    const a = op(g, 'Mul', [loss, scalarFloat(g, 'qat_alpha', spec.alpha)], 'qat_mix');
    loss = op(g, 'Add', [a, op(g, 'Mul', [ce, scalarFloat(g, 'qat_one_minus_alpha', 1 - spec.alpha)], 'qat_mix')], 'qat_mix');
  }
  return { loss, labels, teachers: [teacher] };
}
