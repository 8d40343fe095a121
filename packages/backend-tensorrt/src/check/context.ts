import type { Graph, Model, Node } from '@qdeploy/core';
import { QdqGraph } from './qdq-graph.js';
import { asLayer, type Layer } from './layers.js';
import { analyzeResidual, type ResidualAdd } from './residual.js';
import { fusionChain, type FusionChain } from './chain.js';
import { findLayerNorms, type LayerNormSite } from './layernorm.js';
import { nodeLabel } from './ops.js';
import { layerPlacement, type LayerPlacement } from './groups.js';

/**
 * Everything the rules read, computed once per check: the Q/DQ structure, the weighted
 * layers and their fusion chains, residual Adds and LayerNorms (memoised).
 */
export class CheckContext {
  readonly graph: Graph;
  readonly qdq: QdqGraph;
  /** The model's ai.onnx opset, or null when it imports none. */
  readonly opset: number | null;
  readonly layers: Layer[];
  private readonly order = new Map<Node, number>();
  private readonly layerByNode = new Map<Node, Layer>();
  private readonly residuals = new Map<Node, ResidualAdd | null>();
  private readonly chains = new Map<Layer, FusionChain>();
  private readonly placements = new Map<Layer, LayerPlacement>();
  private _layerNorms: LayerNormSite[] | null = null;

  constructor(readonly model: Model) {
    this.graph = model.graph;
    this.opset = model.opset('') ?? null;
    this.graph.nodes.forEach((n, i) => this.order.set(n, i));
    this.qdq = new QdqGraph(this.graph);
    this.layers = [];
    for (const n of this.graph.nodes) {
      const l = asLayer(n, this.qdq);
      if (l) {
        this.layers.push(l);
        this.layerByNode.set(n, l);
      }
    }
  }

  layerOf(n: Node): Layer | undefined {
    return this.layerByNode.get(n);
  }

  /** The residual-Add reading of an Add (null when no conv feeds it). */
  residual(add: Node): ResidualAdd | null {
    if (!this.residuals.has(add)) this.residuals.set(add, analyzeResidual(add, this));
    return this.residuals.get(add)!;
  }

  chain(layer: Layer): FusionChain {
    let c = this.chains.get(layer);
    if (!c) {
      c = fusionChain(layer, this);
      this.chains.set(layer, c);
    }
    return c;
  }

  /** How TensorRT will run a layer (INT8 or not, and what it fuses). */
  placement(layer: Layer): LayerPlacement {
    let p = this.placements.get(layer);
    if (!p) {
      p = layerPlacement(layer, this);
      this.placements.set(layer, p);
    }
    return p;
  }

  layerNorms(): LayerNormSite[] {
    return (this._layerNorms ??= findLayerNorms(this.qdq));
  }

  /** Position of a node in the graph (for ordering findings). */
  position(n: Node): number {
    return this.order.get(n) ?? -1;
  }

  /** How findings name a node. */
  label(n: Node): string {
    return nodeLabel(n, this.position(n));
  }
}
