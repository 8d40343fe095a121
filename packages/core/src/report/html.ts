import type { SensitivityReport } from '../analyze/analyze.js';
import type { TuneStep } from '../analyze/tune.js';
import type { QuantizedModel } from '../quantize/quantized-model.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { graphSvg } from './graph-svg.js';
import { histogramSvg, sensitivitySvg, stepsTable } from './charts.js';
import type { StubHistogram } from './histograms.js';
import { matchPrecisions } from './placement.js';
import { escapeXml } from './xml.js';

export interface ReportContent {
  title: string;
  /** The placement drawn (the final one for tune). */
  quantized: QuantizedModel;
  /** Summary numbers, in order. */
  summary: [string, string][];
  histograms?: StubHistogram[];
  sensitivity?: SensitivityReport;
  tune?: { steps: readonly TuneStep[]; metric: string; configSnippet: unknown };
}

const STYLE = `
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px}h2{font-size:15px;margin-top:24px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.graphbox{overflow:auto;max-height:900px;border:1px solid #ddd}
#graph .node rect{fill:#fff;stroke:#556}#graph text{font:10px sans-serif;text-anchor:middle}
#graph .ml{font:9px sans-serif;text-anchor:start;fill:#333}
#graph .edge{fill:none;stroke:#889;stroke-width:1}
#graph .q8{fill:#ffd54f;stroke:#8a6d00}#graph .qlow{fill:#ff7043;stroke:#8a2a00}#graph .sl{font:8px sans-serif}
.hists{display:flex;flex-wrap:wrap;gap:8px}.hist{margin:0;border:1px solid #eee;padding:4px}
.hist figcaption{font-size:11px;max-width:320px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{fill:#90a4ae}.al{font:9px sans-serif}.amax{font-size:10px;color:#555;max-width:320px}
#sensitivity .only{fill:#ef5350}#sensitivity .allbut{stroke:#1e88e5;stroke-width:2}.rl{font:10px sans-serif}
.legend span{display:inline-block;padding:1px 6px;margin-right:6px;border:1px solid #888}
pre{background:#f6f6f6;padding:8px}
`;

/** The report as one self-contained HTML page: inline SVG and CSS, no script, no network. */
export function reportHtml(c: ReportContent): string {
  const precisions = matchPrecisions(c.quantized);
  const summary = c.summary.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('');
  const placement = [...precisions.values()].map((p) => `<tr><td>${escapeXml(p.pattern)}</td><td>${escapeXml(p.id)}</td><td>${escapeXml(p.label)}</td></tr>`).join('');
  const sections = [
    `<h1>${escapeXml(c.title)}</h1>`,
    `<h2>Summary</h2><table id="summary">${summary}</table>`,
    `<h2>Graph and placement</h2><p class="legend"><span style="background:hsl(30 70% 72%)">low-bit match</span><span style="background:hsl(30 70% 88%)">INT8 match</span><span>float match</span><span style="border-style:dashed">excluded</span><span style="background:#ffd54f">Q8 stub</span><span style="background:#ff7043">low-bit stub</span> Each match has its own hue; hover for details.</p>`,
    `<div class="graphbox">${graphSvg(c.quantized, precisions)}</div>`,
    `<details><summary>Matches (${precisions.size})</summary><table><tr><th>pattern</th><th>match</th><th>precision</th></tr>${placement}</table></details>`,
  ];
  if (c.sensitivity) {
    const s = c.sensitivity;
    sections.push(`<h2>Sensitivity (${s.samples} samples, ${s.runs} runs in ${s.seconds.toFixed(1)} s)</h2>${sensitivitySvg(s)}`);
    sections.push(`<details><summary>Stub SQNR</summary><table><tr><th>tensor</th><th>SQNR dB</th></tr>${s.stubs.map((x) => `<tr><td>${escapeXml(x.tensor)}</td><td>${x.sqnrDb.toFixed(2)}</td></tr>`).join('')}</table></details>`);
  }
  if (c.tune) {
    sections.push(`<h2>Search</h2>${stepsTable(c.tune.steps, c.tune.metric)}<h2>Config snippet</h2><pre>${escapeXml(JSON.stringify({ quant: c.tune.configSnippet }, null, 2))}</pre>`);
  }
  if (c.histograms?.length) {
    sections.push(`<h2>Histograms of |x| per stub, with each method's amax (▲ = calibrated)</h2><div class="hists">${c.histograms.map(histogramSvg).join('')}</div>`);
  }
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeXml(c.title)}</title><style>${STYLE}</style></head><body>${sections.join('\n')}</body></html>\n`;
}

/** Writes the report (temp file + rename). */
export async function writeReport(file: string, c: ReportContent, protect: readonly string[] = []): Promise<void> {
  await writeFileAtomic(file, reportHtml(c), { protect });
}
