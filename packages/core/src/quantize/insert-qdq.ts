import type { Model } from '../ir/model.js';
import type { Value } from '../ir/value.js';
import { DataType } from '../ir/dtype.js';
import { QdqPoint, weightAxis, type PatternMatch } from '../patterns/pattern.js';
import { quantConfig, tensorQuantConfig, type QuantConfig, type QuantConfigInput } from './config.js';
import { QuantStub } from './quant-stub.js';
import { WeightFakeQuantize } from './weight-fake-quantize.js';
import { QuantizedModel } from './quantized-model.js';
import type { Quantizer } from './quantizer.js';
import { partitionMatches, type ExcludeRules } from './exclude.js';
import { checkOverride, matchOverrideFor, mergeWidest, type QuantOverrides, type TensorOverride } from './overrides.js';
import { scaleGroupsOf } from './scale-groups.js';
import { provablyNonNegative } from '../calibrate/non-negative.js';

export interface InsertQdqOptions {
  /** Quantization settings; defaults are TensorRT's (int8 symmetric, per-channel weights). */
  config?: QuantConfig | QuantConfigInput;
  /** Matches to keep in float (by node name, op type, pattern, or match). */
  exclude?: ExcludeRules;
  /** Per-tensor / per-match bit width, symmetry, per-channel, fixed amax. */
  overrides?: QuantOverrides;
}

/**
 * Step 2 of the pipeline: a QuantStub on each tensor a match's qdqPoints name (one per
 * tensor, however many matches ask), a WeightFakeQuantize on each weight the matched
 * patterns declare. Nothing goes between members of a group; patterns without qdqPoints
 * get nothing.
 */
export function insertQdq(model: Model, matches: readonly PatternMatch[], options: InsertQdqOptions = {}): QuantizedModel {
  const config = quantConfig(options.config as QuantConfigInput);
  const inGraph = new Set(model.graph.nodes);
  const stubs = new Map<Value, QuantStub>();
  const weights = new Map<Value, WeightFakeQuantize>();
  const quantizers: Quantizer[] = [];
  for (const m of matches) {
    if (!inGraph.has(m.anchor)) {
      throw new Error(`insertQdq: match ${m.pattern.name} at ${m.anchor.describe()} is not from this model; pass the model returned by transform() with its matches`);
    }
  }
  const exclusion = partitionMatches(matches, options.exclude);
  const overrides = options.overrides;
  const tensorOverride = (v: Value): TensorOverride | undefined => {
    const o = overrides?.tensors?.[v.name];
    if (o) checkOverride(o, `overrides.tensors["${v.name}"]`);
    return o;
  };
  // A stub shared by several matches takes the widest of their activation overrides.
  const activationOverrides = new Map<Value, TensorOverride>();
  for (const m of exclusion.kept) {
    const o = matchOverrideFor(m, overrides).activation;
    if (!o) continue;
    for (const point of m.qdqPoints) {
      const v = m.roles[point];
      if (v) activationOverrides.set(v, mergeWidest(activationOverrides.get(v), o));
    }
  }

  const nonNegative = new Map<Value, boolean>();
  for (const m of exclusion.kept) {
    if (m.qdqPoints.length === 0) continue;
    const members = new Set(m.nodes);
    for (const point of m.qdqPoints) {
      const v = m.roles[point];
      if (!v) {
        throw new Error(`insertQdq: pattern ${m.pattern.name} declares qdqPoint "${point}" but its match at ${m.anchor.describe()} binds no such tensor`);
      }
      if (v.constant() || (v.elemType !== null && v.elemType !== DataType.FLOAT)) continue; // only float activations
      if (point === QdqPoint.OUTPUT && model.graph.outputs.includes(v)) continue; // the model's outputs stay float
      let stub = stubs.get(v);
      if (!stub) {
        const o = { ...activationOverrides.get(v), ...tensorOverride(v) };
        const c = tensorQuantConfig({ ...config.activation, ...withoutAmax(o) });
        // Below 8 bits a tensor that is never negative gets the unsigned grid (twice the levels).
        if (c.symmetric && c.nBits < 8 && provablyNonNegative(v, nonNegative)) c.unsigned = true;
        stub = new QuantStub(v, c);
        if (o.amax !== undefined) stub.fixRange(o.amax);
        stubs.set(v, stub);
        quantizers.push(stub);
      }
      // Inputs feed only the requesting group's nodes; an OUTPUT point feeds every reader.
      const uses = point === QdqPoint.OUTPUT ? v.uses.filter((u) => u.index >= 0) : v.uses.filter((u) => members.has(u.node));
      stub.addRequest(m, uses);
    }
    const skip = config.skipWeightQuantFor;
    if (skip.includes(m.pattern.name) || m.nodes.some((n) => skip.includes(n.opType))) continue;
    for (const spec of m.pattern.weights) {
      const w = m.roles[spec.role];
      const t = w?.constant();
      if (!w || !t || t.dataType !== DataType.FLOAT) continue;
      const axis = weightAxis(spec, m);
      let wq = weights.get(w);
      if (!wq) {
        const o = { ...matchOverrideFor(m, overrides).weight, ...tensorOverride(w) };
        wq = new WeightFakeQuantize(w, tensorQuantConfig({ ...config.weight, ...withoutAmax(o) }), axis);
        if (o.amax !== undefined) wq.setRange({ amax: o.amax, min: -o.amax, max: o.amax });
        weights.set(w, wq);
        quantizers.push(wq);
      } else if (wq.axis !== null && wq.axis !== axis) {
        throw new Error(`insertQdq: weight ${w.name} is shared by patterns that disagree on its output-channel axis (${wq.axis} vs ${axis})`);
      }
      wq.addRequest(m);
    }
  }
  // Stubs that must share a scale (Concat inputs and output, MaxPool in/out, ...).
  const groups = scaleGroupsOf(matches, [...stubs.values()]);
  return new QuantizedModel(model, matches, quantizers, config, { excluded: exclusion.excluded, unusedExcludeRules: exclusion.unused, exclude: options.exclude, overrides }, groups);
}

function withoutAmax(o: TensorOverride): Omit<TensorOverride, 'amax'> {
  const { amax: _amax, ...rest } = o;
  return rest;
}
