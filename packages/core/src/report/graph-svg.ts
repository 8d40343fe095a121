import dagre, { type NodeLabel, type Point } from '@dagrejs/dagre';
import type { Node } from '../ir/node.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import { escapeXml } from './xml.js';
import type { MatchPrecision } from './placement.js';

const NODE_H = 26;
const STUB_W = 40;

/** A stable, distinct hue per match (golden-angle steps). */
function hue(i: number): number {
  return Math.round((i * 137.508) % 360);
}

function shortName(n: Node): string {
  const name = n.name || n.outputs[0]?.name || '';
  const parts = name.split('/').filter(Boolean);
  return parts.length > 2 ? parts.slice(-2).join('/') : name;
}

/**
 * The transformed graph drawn as SVG (laid out by dagre, a layered DAG layout): each match
 * a box coloured by its match (hue) and precision (fill: low-bit strong, INT8 light,
 * float white, excluded dashed), each QuantStub a Q/DQ diamond on the edges it feeds.
 */
export function graphSvg(qm: QuantizedModel, precisions: Map<PatternMatch, MatchPrecision>): string {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 14, ranksep: 22, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  const graph = qm.model.graph;
  const ids = new Map<Node, string>(graph.nodes.map((n, i) => [n, `n${i}`]));
  const matchOf = new Map<Node, PatternMatch>();
  qm.matches.forEach((m) => m.nodes.forEach((n) => matchOf.set(n, m)));
  qm.matches.forEach((m, i) => g.setNode(`m${i}`, { label: m.pattern.name, clusterLabelPos: 'top', paddingTop: 16 }));
  for (const n of graph.nodes) {
    const text = `${n.opType} ${shortName(n)}`;
    g.setNode(ids.get(n)!, { width: Math.min(220, 16 + text.length * 6.2), height: NODE_H, label: text });
    const m = matchOf.get(n);
    if (m) g.setParent(ids.get(n)!, `m${qm.matches.indexOf(m)}`);
  }
  const inputs = graph.inputs.filter((v) => !v.isInitializer);
  inputs.forEach((v, i) => g.setNode(`in${i}`, { width: Math.min(200, 20 + v.name.length * 6.2), height: NODE_H, label: v.name }));
  const source = new Map<string, string>(inputs.map((v, i) => [v.name, `in${i}`]));
  for (const n of graph.nodes) for (const o of n.outputs) source.set(o.name, ids.get(n)!);
  // Stubs: producer → stub → the uses it feeds; other readers keep the float edge.
  const stubbed = new Map<string, string>();
  qm.stubs().forEach((s, i) => {
    if (!s.enabled) return;
    g.setNode(`s${i}`, { width: STUB_W, height: 20, label: 'Q/DQ', stub: true, tensor: s.tensor.name, bits: s.config.nBits });
    const from = source.get(s.tensor.name);
    if (from) g.setEdge(from, `s${i}`);
    for (const u of s.uses) stubbed.set(`${s.tensor.name}->${ids.get(u.node)}`, `s${i}`);
  });
  for (const n of graph.nodes) {
    for (const v of n.inputs) {
      if (!v || v.isInitializer || v.constant()) continue;
      const to = ids.get(n)!;
      const from = stubbed.get(`${v.name}->${to}`) ?? source.get(v.name);
      if (from && from !== to) g.setEdge(from, to);
    }
  }
  dagre.layout(g);
  const { width = 100, height = 100 } = g.graph();
  const parts: string[] = [];
  // Clusters first (behind), largest first.
  qm.matches.forEach((m, i) => {
    const c = g.node(`m${i}`);
    if (!c || !c.width) return;
    const p = precisions.get(m)!;
    const h = hue(i);
    const fill = p.kind === 'low' ? `hsl(${h} 70% 72%)` : p.kind === 'int8' ? `hsl(${h} 70% 88%)` : '#ffffff';
    const dash = p.kind === 'excluded' ? ' stroke-dasharray="5 3"' : '';
    parts.push(
      `<g class="match ${p.kind}" data-match="${escapeXml(p.id)}"><title>${escapeXml(`${p.pattern} @ ${p.id}: ${p.label}`)}</title>` +
        `<rect x="${c.x - c.width / 2}" y="${c.y - c.height / 2}" width="${c.width}" height="${c.height}" rx="6" fill="${fill}" stroke="hsl(${h} 60% 40%)" stroke-width="1.5"${dash}/>` +
        `<text x="${c.x - c.width / 2 + 5}" y="${c.y - c.height / 2 + 12}" class="ml">${escapeXml(`${p.pattern} · ${p.label}`)}</text></g>`,
    );
  });
  for (const e of g.edges()) {
    const pts = g.edge(e).points ?? [];
    if (pts.length) parts.push(`<polyline class="edge" points="${pts.map((p: Point) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}" marker-end="url(#arrow)"/>`);
  }
  for (const id of g.nodes()) {
    const n = g.node(id) as NodeLabel & { label?: string; stub?: boolean; tensor?: string; bits?: number };
    if (!n || id.startsWith('m')) continue;
    const x = n.x, y = n.y, w = n.width, h = n.height;
    if (n.stub) {
      parts.push(
        `<g class="stub"><title>${escapeXml(`QuantStub on ${n.tensor} (${n.bits}-bit)`)}</title><polygon points="${x},${y - h / 2} ${x + w / 2},${y} ${x},${y + h / 2} ${x - w / 2},${y}" class="${(n.bits ?? 8) < 8 ? 'qlow' : 'q8'}"/>` +
          `<text x="${x}" y="${y + 3}" class="sl">Q${n.bits}</text></g>`,
      );
    } else {
      parts.push(`<g class="node"><rect x="${x - w / 2}" y="${y - h / 2}" width="${w}" height="${h}" rx="3"/><text x="${x}" y="${y + 4}">${escapeXml(n.label ?? '')}</text></g>`);
    }
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="graph" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#667"/></marker></defs>` +
    parts.join('') +
    '</svg>'
  );
}
