import { DataType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { inferElemTypes } from './elem-types.js';
import { FLOAT_MAX, encodeFloats, floatTypeCode, roundFloats, type FloatPrecision } from './fp16.js';
import { floatPolicy, keepInFp32, type FloatPolicyInput, type KeptNode } from './policy.js';
import { upgradeToOpset19 } from './opset19.js';

export interface StronglyTypedOptions {
  /** The reduced type of the float regions. */
  float: 'fp16' | 'bf16';
  /** Type of the model's float inputs and outputs: "original" (default: as they were) or a precision. */
  io?: 'original' | FloatPrecision;
  /** Which ops stay FP32 (see `FloatPolicy`); the defaults follow ModelOpt AutoCast. */
  policy?: FloatPolicyInput;
  /** Max |x| per tensor name on reference data (`measureFloatRanges`): enables the data rule and the out-of-range report. */
  ranges?: Readonly<Record<string, number>>;
  /**
   * Keep FP32 storage and round instead: every value the typed model would hold in the
   * reduced type goes through a Cast pair (constants are rounded). What onnxruntime's CPU
   * provider can run for a BF16 model, and the reference the FP16 one is measured against.
   */
  emulate?: boolean;
}

export interface OutOfRange {
  tensor: string;
  /** Max |x| on the reference data. */
  max: number;
  /** True when the node producing it stays FP32 (so nothing overflows); false: it overflows to ±Infinity. */
  keptFp32: boolean;
}

export interface StronglyTypedReport {
  float: 'fp16' | 'bf16';
  emulated: boolean;
  /** Float nodes in the reduced type / kept FP32. */
  lowNodes: number;
  fp32Nodes: number;
  /** Every FP32 node and the rule that kept it. */
  kept: KeptNode[];
  /** Cast nodes added (pairs count twice when emulating). */
  casts: number;
  opset: { from: number; to: number };
  /** Whether reference ranges were given (the data rule and the out-of-range report need them). */
  rangesMeasured: boolean;
  /** Tensors whose reference values exceed the reduced type's range. */
  outOfRange: OutOfRange[];
}

type Prec = 'low' | 'fp32';

/** Input slots that must stay FP32 whatever the node's type (Resize's roi and scales, Upsample's scales). */
const PINNED_FP32: Record<string, readonly number[]> = { Resize: [1, 2], Upsample: [1] };
const isQdq = (n: Node) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear';

/**
 * Writes the float regions of a model (typically a QDQ export) in FP16 or BF16 the way a
 * strongly typed TensorRT build needs them: float initializers converted, Q/DQ scales in
 * the reduced type (opset 19, so DequantizeLinear produces it), Casts where an FP32-policy
 * node meets the reduced region and at the graph inputs / outputs (their types stay as
 * they were unless `io` says otherwise). The input model is not modified.
 */
export function toStronglyTyped(model: Model, options: StronglyTypedOptions): { model: Model; report: StronglyTypedReport } {
  if (options.float !== 'fp16' && options.float !== 'bf16') throw new Error(`toStronglyTyped: float must be "fp16" or "bf16", got ${JSON.stringify(options.float)}`);
  const out = model.clone();
  const g = out.graph;
  const LOW = floatTypeCode(options.float);
  const emulate = options.emulate === true;
  const types = inferElemTypes(g);
  const isFloat = (v: Value | null): v is Value => v !== null && types.get(v) === DataType.FLOAT;
  const kept = keepInFp32(g, isFloat, floatPolicy(options.policy), options.float, options.ranges);
  const ioLow = !emulate && options.io !== undefined && options.io !== 'original' && options.io !== 'fp32';
  if (ioLow && options.io !== options.float) throw new Error(`toStronglyTyped: io "${options.io}" must be "original", "fp32" or the float type "${options.float}"`);

  // 1. Each node's precision: float compute nodes from the policy, Q/DQ from their neighbours.
  const prec = new Map<Node, Prec>();
  const nodes = [...g.nodes];
  for (const n of nodes) {
    if (isQdq(n) || n.opType === 'Cast' || n.opType === 'Constant') continue;
    const floatOut = n.outputs.some(isFloat);
    const opaque = n.hasSubgraphs() || (n.domain !== '' && n.domain !== 'ai.onnx') || (floatOut && !n.inputs.some(isFloat));
    if (floatOut) prec.set(n, opaque || kept.has(n) ? 'fp32' : 'low');
  }
  const outputs = new Set(g.outputs);
  for (const dq of nodes.filter((n) => n.opType === 'DequantizeLinear')) {
    const readers = dq.output().uses.map((u) => u.node);
    const low = readers.some((r) => prec.get(r) === 'low' || r.opType === 'QuantizeLinear') || (outputs.has(dq.output()) && ioLow);
    prec.set(dq, low ? 'low' : 'fp32');
  }
  for (const q of nodes.filter((n) => n.opType === 'QuantizeLinear')) {
    const dqs = q.outputs.flatMap((o) => o.uses.map((u) => u.node)).filter((r) => r.opType === 'DequantizeLinear');
    prec.set(q, dqs.length === 0 || dqs.some((d) => prec.get(d) === 'low') ? 'low' : 'fp32');
  }

  // 2. The type each float value has in the result.
  const actual = (v: Value): Prec | 'const' => {
    if (v.constant()) return 'const';
    if (g.inputs.includes(v)) return ioLow ? 'low' : 'fp32';
    const p = v.producer;
    if (!p) return 'fp32';
    if (p.opType === 'Cast') return Number(p.attr('to', 0)) === LOW ? 'low' : 'fp32';
    return prec.get(p) === 'low' ? 'low' : 'fp32';
  };
  const wanted = (n: Node, i: number, v: Value): Prec | null => {
    if (n.opType === 'Cast') return null;
    if (PINNED_FP32[n.opType]?.includes(i)) return 'fp32';
    const p = prec.get(n);
    if (p) return p;
    // Float inputs, no float output (Shape, comparisons): match the first computed float input.
    const ref = n.inputs.find((x) => isFloat(x) && !x.constant());
    return ref && ref !== v ? (actual(ref) === 'low' ? 'low' : 'fp32') : null;
  };

  let casts = 0;
  const cast = (x: Value, to: number, base: string): Value => {
    casts++;
    return g.addNode({ opType: 'Cast', name: g.uniqueName(`${base}_Cast`), inputs: [x], outputs: [g.addValue(base)], attrs: { to } }).output();
  };
  const views = new Map<string, Value>();
  const suffix = options.float;
  /** `v` as a node wanting `w` must read it. */
  const view = (v: Value, w: Prec): Value => {
    const a = actual(v);
    if (emulate ? w === 'fp32' || a === 'low' : a === w || (a === 'const' && w === 'fp32')) return v;
    const key = `${v.name}\u0000${w}`;
    let r = views.get(key);
    if (!r) {
      const t = v.constant();
      if (t) {
        const data = t.toFloat32();
        const converted = emulate ? Tensor.fromArray(roundFloats(data, options.float), t.dims) : Tensor.fromArray(encodeFloats(data, options.float), t.dims, LOW);
        r = g.addInitializer(g.uniqueName(`${v.name}_${suffix}`), converted);
      } else if (emulate) {
        r = cast(cast(v, LOW, g.uniqueName(`${v.name}_${suffix}`)), DataType.FLOAT, g.uniqueName(`${v.name}_${suffix}_rounded`));
      } else {
        r = cast(v, w === 'low' ? LOW : DataType.FLOAT, g.uniqueName(`${v.name}_${w === 'low' ? suffix : 'fp32'}`));
      }
      views.set(key, r);
    }
    return r;
  };

  // A Cast to FP32 (shape arithmetic turned float) read only by the reduced region casts to its type instead.
  if (!emulate) {
    for (const c of nodes) {
      if (c.opType !== 'Cast' || !isFloat(c.output())) continue;
      const uses = c.output().uses;
      if (uses.length && !outputs.has(c.output()) && uses.every((u) => wanted(u.node, u.index, c.output()) === 'low')) c.setAttr('to', LOW);
    }
  }

  // 3. Every float input slot reads the type its node wants.
  let usesQdqLow = false;
  for (const n of nodes) {
    n.inputs.forEach((v, i) => {
      if (!isFloat(v)) return;
      const w = wanted(n, i, v);
      if (w === null) return;
      if (isQdq(n) && w === 'low') usesQdqLow = true;
      const r = view(v, w);
      if (r !== v) n.setInput(i, r);
    });
  }

  // 4. Graph outputs keep their type (or take `io`'s); emulation rounds what the reduced region writes.
  for (const n of nodes) {
    if (!emulate || prec.get(n) !== 'low') continue;
    for (const o of n.outputs) if (isFloat(o)) replaceKeepingName(g, o, (x) => cast(cast(x, LOW, g.uniqueName(`${o.name}_${suffix}`)), DataType.FLOAT, g.uniqueName(`${o.name}_${suffix}_rounded`)));
  }
  if (!emulate) {
    for (const o of [...g.outputs]) {
      if (!isFloat(o)) continue;
      const a = actual(o);
      const want = ioLow ? 'low' : 'fp32';
      if (a === want || a === 'const') continue;
      // Only the graph output switches to the Cast; the model's own readers keep their view.
      const r = view(o, want);
      const name = o.name;
      g.rename(o, g.uniqueName(`${name}_${a === 'low' ? suffix : 'fp32'}`));
      g.rename(r, name);
      r.type = o.type;
      o.type = null;
      g.outputs = g.outputs.map((x) => (x === o ? r : x));
    }
    const setType = (v: Value, code: number) => {
      if (v.type?.tensorType) v.type = { ...v.type, tensorType: { ...v.type.tensorType, elemType: code } };
    };
    if (ioLow) for (const v of [...g.inputs, ...g.outputs]) if (v.elemType === DataType.FLOAT) setType(v, LOW);
    // Intermediate types changed: drop their value_info rather than state stale types.
    const io = new Set([...g.inputs, ...g.outputs]);
    for (const v of g.allValues()) if (!io.has(v) && !v.initializer) v.type = null;
  }
  g.cleanup().toposort();
  const from = out.opset('') ?? 0;
  if (!emulate && usesQdqLow) upgradeToOpset19(out);
  if (!emulate) out.setMetadata('qdeploy.float', options.float);

  const floatNodes = [...prec.entries()].filter(([n]) => !isQdq(n));
  const outOfRange: OutOfRange[] = [];
  for (const [name, max] of Object.entries(options.ranges ?? {})) {
    if (!(max > FLOAT_MAX[options.float])) continue;
    const p = model.graph.value(name)?.producer;
    const node = p ? nodes.find((n) => n.name === p.name && n.opType === p.opType) : undefined;
    outOfRange.push({ tensor: name, max, keptFp32: !node || prec.get(node) !== 'low' });
  }
  return {
    model: out,
    report: {
      float: options.float,
      emulated: emulate,
      lowNodes: floatNodes.filter(([, p]) => p === 'low').length,
      fp32Nodes: floatNodes.filter(([, p]) => p === 'fp32').length,
      kept: [...kept.values()],
      casts,
      opset: { from, to: out.opset('') ?? 0 },
      rangesMeasured: options.ranges !== undefined,
      outOfRange,
    },
  };
}

/**
 * Puts `make(v)` between `v` and all its readers; when `v` is a graph output, the new value
 * takes over its name so the model's interface does not change.
 */
function replaceKeepingName(g: Graph, v: Value, make: (x: Value) => Value): void {
  const readers = new Set(v.uses.map((u) => u.node));
  const r = make(v);
  const inserted = new Set<Node>();
  for (let p = r.producer; p && !readers.has(p); p = p.input(0)?.producer ?? null) {
    inserted.add(p);
    if (p.input(0) === v) break;
  }
  g.replaceAllUses(v, r, { except: inserted });
  if (g.outputs.includes(r)) {
    const name = v.name;
    g.rename(v, g.uniqueName(`${name}_inner`));
    g.rename(r, name);
    r.type = v.type;
    v.type = null;
  }
}
