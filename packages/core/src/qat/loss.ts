/**
 * Loss subgraphs appended to the training graph: softmax cross-entropy on labels (with
 * label smoothing) and knowledge distillation from the FP32 model's logits (KL divergence
 * at a temperature, scaled by T² as in Hinton et al.), optionally mixed with the labels.
 */
import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';
import { addTypedInput, int64s, op, reduce, scalarFloat } from './ops.js';
import { Tensor } from '../ir/tensor.js';

export type LossSpec =
  | { type: 'cross-entropy'; labelSmoothing?: number }
  | { type: 'distillation'; temperature?: number; /** Weight of the KL term; 1 − alpha goes to cross-entropy on labels (needs labels when < 1). Default 1. */ alpha?: number; labelSmoothing?: number };

export type LossName = LossSpec['type'];

export type ResolvedLoss =
  | { type: 'cross-entropy'; labelSmoothing: number }
  | { type: 'distillation'; temperature: number; alpha: number; labelSmoothing: number };

/** The inputs the loss reads besides the logits. */
export interface LossGraph {
  loss: Value;
  /** int64 [batch] class indices, when the loss uses labels. */
  labels: Value | null;
  /** float [batch, classes] FP32 logits, for distillation. */
  teacher: Value | null;
}

export function resolveLoss(spec: LossSpec | LossName | undefined): ResolvedLoss {
  const s: LossSpec = typeof spec === 'string' ? ({ type: spec } as LossSpec) : (spec ?? { type: 'cross-entropy' });
  const check = (name: string, v: number, lo: number, hi: number, loOpen = false) => {
    if (!Number.isFinite(v) || v > hi || (loOpen ? v <= lo : v < lo)) throw new Error(`loss.${name} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
    return v;
  };
  if (s.type === 'cross-entropy') return { type: 'cross-entropy', labelSmoothing: check('labelSmoothing', s.labelSmoothing ?? 0, 0, 1) };
  if (s.type === 'distillation') {
    return {
      type: 'distillation',
      temperature: check('temperature', s.temperature ?? 1, 0, 1000, true),
      alpha: check('alpha', s.alpha ?? 1, 0, 1),
      labelSmoothing: check('labelSmoothing', s.labelSmoothing ?? 0, 0, 1),
    };
  }
  throw new Error(`loss must be "cross-entropy" or "distillation", got ${JSON.stringify((s as { type: unknown }).type)}`);
}

/** Whether the loss needs labels in every batch. */
export function lossNeedsLabels(spec: ResolvedLoss): boolean {
  return spec.type === 'cross-entropy' || spec.alpha < 1;
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

/** Appends the loss on `logits` ([batch, classes]) and its inputs (labels, teacher logits). */
export function addLoss(g: Graph, logits: Value, batch: number, classes: number, spec: ResolvedLoss): LossGraph {
  const needLabels = lossNeedsLabels(spec);
  const labels = needLabels ? addTypedInput(g, g.addValue('qat_labels'), DataType.INT64, [batch]) : null;
  const teacher = spec.type === 'distillation' ? addTypedInput(g, g.addValue('qat_teacher_logits'), DataType.FLOAT, [batch, classes]) : null;
  let loss: Value;
  if (spec.type === 'cross-entropy') {
    loss = crossEntropy(g, logits, labels!, batch, classes, spec.labelSmoothing);
  } else {
    loss = distillation(g, logits, teacher!, batch, spec.temperature);
    if (spec.alpha < 1) {
      const ce = crossEntropy(g, logits, labels!, batch, classes, spec.labelSmoothing);
      const a = op(g, 'Mul', [loss, scalarFloat(g, 'qat_alpha', spec.alpha)], 'qat_mix');
      loss = op(g, 'Add', [a, op(g, 'Mul', [ce, scalarFloat(g, 'qat_one_minus_alpha', 1 - spec.alpha)], 'qat_mix')], 'qat_mix');
    }
  }
  return { loss, labels, teacher };
}
