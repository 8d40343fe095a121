/**
 * Small graph-building helpers for the training graph: constants, typed graph inputs and
 * reductions whose `axes` moved from an attribute to an input between opsets.
 */
import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import type { AttrValue } from '../ir/node.js';

/** Adds one node and returns its first output (named after `base`). */
export function op(g: Graph, opType: string, inputs: readonly (Value | null)[], base: string, attrs: Record<string, AttrValue> = {}): Value {
  const name = g.uniqueName(`${base}_${opType}`);
  return g.addNode({ opType, name, inputs, outputs: [g.addValue(`${name}_out`)], attrs }).output();
}

export function scalarFloat(g: Graph, name: string, value: number): Value {
  return g.addInitializer(g.uniqueName(name), Tensor.fromArray(new Float32Array([value]), []));
}

export function int64s(g: Graph, name: string, values: readonly number[], dims: readonly number[] = [values.length]): Value {
  return g.addInitializer(g.uniqueName(name), Tensor.fromArray(BigInt64Array.from(values.map(BigInt)), dims, DataType.INT64));
}

/** A graph input with a static shape. */
export function addTypedInput(g: Graph, value: Value, elemType: number, dims: readonly number[]): Value {
  value.type = { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } };
  if (!g.inputs.includes(value)) g.inputs.push(value);
  return value;
}

/** Replaces the first dimension of a value's declared type (the batch) by `batch`. */
export function setBatch(value: Value, batch: number): void {
  const dims = value.type?.tensorType?.shape?.dim;
  if (!value.type?.tensorType || !dims || dims.length === 0) return;
  value.type = { ...value.type, tensorType: { ...value.type.tensorType, shape: { dim: [{ dimValue: batch }, ...dims.slice(1)] } } };
}

/** ReduceMax / ReduceSum / ReduceMean over `axes` (null: all), in the form the opset wants. */
export function reduce(g: Graph, opset: number, opType: 'ReduceMax' | 'ReduceSum' | 'ReduceMean', x: Value, axes: readonly number[] | null, keepdims: 0 | 1, base: string): Value {
  const axesAsInput = opType === 'ReduceSum' ? opset >= 13 : opset >= 18;
  if (axes === null) return op(g, opType, [x], base, { keepdims });
  if (axesAsInput) return op(g, opType, [x, int64s(g, `${base}_axes`, axes)], base, { keepdims });
  return op(g, opType, [x], base, { keepdims, axes: [...axes] });
}
