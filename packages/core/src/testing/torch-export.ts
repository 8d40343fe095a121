// Writes graphs the way PyTorch 1.13's ONNX exporter does (node and weight names, op
// spellings, BatchNormalization kept with training_mode 0, dynamic batch), so generated
// models exercise the same matching paths as real exports without shipping them.
import { DataType } from '../ir/dtype.js';
import { Graph } from '../ir/graph.js';
import { Model } from '../ir/model.js';
import type { AttrValue } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { randomFloats } from './index.js';

/** How a BatchNormalization gets one of its parameters. */
export type ParamRoute = 'initializer' | 'identity' | 'constant';

export interface ConvSpec {
  cin: number;
  cout: number;
  k: number;
  stride?: number;
  groups?: number;
  bias?: boolean;
}

/**
 * The scope PyTorch gives a module's nodes: "layer1.0.conv1" → "/layer1/layer1.0/conv1";
 * children of a Sequential (numeric names) extend their parent's segment.
 */
export function torchScope(modulePath: string): string {
  const segments: string[] = [];
  for (const part of modulePath.split('.')) {
    segments.push(/^\d+$/.test(part) && segments.length ? `${segments[segments.length - 1]}.${part}` : part);
  }
  return `/${segments.join('/')}`;
}

/** A graph under construction, named as the exporter names it, with seeded random parameters. */
export class TorchExport {
  readonly graph = new Graph();
  readonly input: Value;
  private seed: number;
  /** Shared parameters: the first of a key is an initializer, the rest read it through Identity. */
  private readonly sharedParams = new Map<string, Value>();
  private identities = 0;

  constructor(name: string, inputShape: readonly number[], seed = 1) {
    this.graph.name = name;
    this.seed = seed;
    this.input = this.graph.getOrCreateValue('input');
    this.input.type = tensorType(['batch', ...inputShape]);
    this.graph.inputs.push(this.input);
  }

  /** Uniform values in [center − spread, center + spread). */
  random(n: number, spread: number, center = 0): Float32Array {
    const out = randomFloats(n, this.seed++ * 7919);
    for (let i = 0; i < n; i++) out[i] = center + spread * out[i]!;
    return out;
  }

  param(name: string, data: Float32Array, dims: readonly number[]): Value {
    return this.graph.addInitializer(name, Tensor.fromArray(data, dims));
  }

  /**
   * A parameter PyTorch deduplicated: equal tensors are written once and read elsewhere
   * through an Identity node (torch.onnx does this for tied or equal-valued parameters).
   */
  sharedParam(key: string, name: string, make: () => Float32Array, dims: readonly number[]): Value {
    const first = this.sharedParams.get(key);
    if (!first) {
      const v = this.param(name, make(), dims);
      this.sharedParams.set(key, v);
      return v;
    }
    const id = this.graph.addNode({ opType: 'Identity', name: `Identity_${this.identities++}`, inputs: [first], outputs: [this.graph.getOrCreateValue(name)] });
    return id.output();
  }

  node(scope: string, opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue> = {}, suffix = ''): Value {
    return this.graph.addNode({ opType, name: `${scope}/${opType}${suffix}`, inputs: [...inputs], attrs }).output();
  }

  /** A Constant node holding a float tensor (how the exporter writes Clip bounds). */
  constant(scope: string, data: Float32Array, dims: readonly number[], suffix = ''): Value {
    return this.node(scope, 'Constant', [], { value: Tensor.fromArray(data, dims) }, suffix);
  }

  conv(modulePath: string, x: Value, c: ConvSpec, bias?: Value): Value {
    const { cin, cout, k, stride = 1, groups = 1 } = c;
    const fan = (cin / groups) * k * k;
    const w = this.param(`${modulePath}.weight`, this.random(cout * fan, Math.sqrt(3 / fan)), [cout, cin / groups, k, k]);
    const b = bias ?? (c.bias ? this.param(`${modulePath}.bias`, this.random(cout, 0.1), [cout]) : null);
    const pad = (k - 1) >> 1;
    return this.node(torchScope(modulePath), 'Conv', b ? [x, w, b] : [x, w], {
      dilations: [1, 1], group: groups, kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride],
    });
  }

  /**
   * BatchNormalization with randomised statistics (γ, σ² far from 1, β, μ far from 0) so
   * folding it changes the weights; `routes` sends parameters through Identity or Constant nodes.
   */
  batchNorm(modulePath: string, x: Value, channels: number, routes: Partial<Record<'weight' | 'bias' | 'running_mean' | 'running_var', ParamRoute>> = {}, sharedKey = ''): Value {
    const scope = torchScope(modulePath);
    const stats = {
      weight: () => this.random(channels, 0.4, 1),
      bias: () => this.random(channels, 0.2),
      running_mean: () => this.random(channels, 0.2),
      running_var: () => this.random(channels, 0.5, 1),
    };
    let constants = 0;
    const params = (Object.keys(stats) as (keyof typeof stats)[]).map((p) => {
      const name = `${modulePath}.${p}`;
      switch (routes[p] ?? 'initializer') {
        case 'identity': return this.sharedParam(`${sharedKey}.${p}`, name, stats[p], [channels]);
        case 'constant': return this.constant(scope, stats[p](), [channels], constants++ ? `_${constants - 1}` : '');
        default: return this.param(name, stats[p](), [channels]);
      }
    });
    return this.node(scope, 'BatchNormalization', [x, ...params], { epsilon: { float: 1e-5 }, momentum: { float: 0.9 }, training_mode: 0 });
  }

  relu(modulePath: string, x: Value): Value {
    return this.node(torchScope(modulePath), 'Relu', [x]);
  }

  /** ReLU6 as the exporter writes it: Clip with its bounds in two Constant nodes. */
  relu6(modulePath: string, x: Value): Value {
    const scope = torchScope(modulePath);
    const lo = this.constant(scope, new Float32Array([0]), []);
    const hi = this.constant(scope, new Float32Array([6]), [], '_1');
    return this.node(scope, 'Clip', [x, lo, hi]);
  }

  /** SiLU as the exporter writes it: x · Sigmoid(x). */
  silu(modulePath: string, x: Value): Value {
    const scope = torchScope(modulePath);
    return this.node(scope, 'Mul', [x, this.node(scope, 'Sigmoid', [x])]);
  }

  /** GlobalAveragePool → Flatten → Gemm (transB) whose output is the graph output "logits". */
  classifier(pool: string, fcPath: string, x: Value, features: number, classes: number): Model {
    const pooled = this.node(pool, 'GlobalAveragePool', [x]);
    const flat = this.node('', 'Flatten', [pooled], { axis: 1 });
    const w = this.param(`${fcPath}.weight`, this.random(classes * features, Math.sqrt(3 / features)), [classes, features]);
    const b = this.param(`${fcPath}.bias`, this.random(classes, 0.1), [classes]);
    const logits = this.node(torchScope(fcPath), 'Gemm', [flat, w, b], { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 });
    this.graph.rename(logits, 'logits');
    logits.type = tensorType(['batch', classes]);
    this.graph.outputs.push(logits);
    return new Model(this.graph, { irVersion: 8, producerName: 'qdeploy-testing', opsetImport: [{ domain: '', version: 17 }] });
  }
}

function tensorType(dims: readonly (number | string)[]) {
  return {
    tensorType: {
      elemType: DataType.FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  };
}
